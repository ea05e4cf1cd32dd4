"""The Chainlit adapter: every team on a troupe server as a Chainlit chat profile.

Run it with ``troupe chainlit --server URL`` (or ``chainlit run`` on
``troupe/adapters/chainlit/app.py``), or attach troupe to your own Chainlit app::

    from troupe.adapters.chainlit import TroupeChainlit

    TroupeChainlit("http://127.0.0.1:8000", api_key="sk-...").attach()

Importing this package is cheap: Chainlit itself is imported when one of the
names below is first used (``pip install "troupe-server[chainlit]"``).
"""

from __future__ import annotations

__all__ = ["ChainlitRenderer", "TroupeChainlit"]

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from troupe.adapters.chainlit._app import TroupeChainlit
    from troupe.adapters.chainlit._render import ChainlitRenderer


def __getattr__(name: str) -> Any:
    if name == "TroupeChainlit":
        from troupe.adapters.chainlit._app import TroupeChainlit

        return TroupeChainlit
    if name == "ChainlitRenderer":
        from troupe.adapters.chainlit._render import ChainlitRenderer

        return ChainlitRenderer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
