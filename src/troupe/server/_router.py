"""A Litestar router built for the one app it is registered in."""

from __future__ import annotations

__all__ = ["AppRouter"]

from typing import Any

from litestar import Router


class AppRouter(Router):
    """A ``Router`` made in ``on_app_init`` (or by the studio) for the app being built.

    Litestar deep-copies every router it registers, in case the same one is registered in
    other apps too: a copy of all its handlers, most of what registering one costs (~10 ms
    of a start for troupe's). These are new for each app and registered once, so the first
    registration takes the router itself; a second one would find it owned, and fails.
    """

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> AppRouter:
        if self.owner is not None:
            raise RuntimeError(f"the router at {self.path!r} is registered already")
        return self
