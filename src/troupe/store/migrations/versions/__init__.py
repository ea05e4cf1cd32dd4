"""One file per schema revision, oldest first. Never edit a released one: add the next."""
