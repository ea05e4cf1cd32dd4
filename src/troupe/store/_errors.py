"""The store's own error: the database cannot be reached or its schema cannot be used."""

from __future__ import annotations

__all__ = ["StoreError"]

from troupe.errors import TroupeError


class StoreError(TroupeError):
    """The conversation store is unavailable (503): the client may retry."""

    status_code = 503
    error_type = "server_error"
    code = "store_unavailable"
