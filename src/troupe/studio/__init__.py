"""troupe studio: see what a team did, run it, and check a config, in the browser.

Served at ``/studio`` with the server (``server.studio: false`` turns it off). The page is
plain HTML, CSS and JavaScript shipped in this package: nothing is fetched from elsewhere.
It is a view of runs like every other protocol: it starts runs through the chat
completions API and reads their logs; it never runs a team itself.
"""

from __future__ import annotations

__all__ = ["studio_router"]

from troupe.studio._routes import studio_router
