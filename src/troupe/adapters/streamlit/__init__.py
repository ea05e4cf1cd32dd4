"""The Streamlit adapter: an embeddable chat component and a ready app.

Embed a team in your own page::

    import streamlit as st
    from troupe.adapters.streamlit import chat

    left, right = st.columns(2)
    with left:
        chat("http://127.0.0.1:8000", "assistant", key="helper", height=500)
    with right:
        chat("http://127.0.0.1:8000", "writers", key="writers", height=500)

or run the ready app: ``troupe streamlit --server URL --api-key KEY``.
Streamlit is imported when ``chat`` is first used, so ``troupe --help`` works
without the ``streamlit`` extra (``pip install "troupe-server[streamlit]"``).
"""

from __future__ import annotations

__all__ = ["chat"]

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from troupe.adapters.streamlit._component import chat


def __getattr__(name: str) -> Any:
    if name == "chat":
        from troupe.adapters.streamlit._component import chat

        return chat
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
