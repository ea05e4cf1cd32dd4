"""The ready chat app: ``troupe streamlit --server URL --api-key KEY``.

It reads the server and key from ``TROUPE_SERVER`` and ``TROUPE_API_KEY``
(the command sets them), lists the server's teams in the sidebar, and gives
each team its own ``chat`` component, so every team keeps its history while
you switch between them. The selected team is in the URL (``?team=``), with
each team's conversation id, so a reloaded page comes back to where it was.
"""

from __future__ import annotations

__all__ = ["main"]

import os

import streamlit as st

from troupe.adapters._base import TeamInfo
from troupe.adapters.streamlit._component import chat
from troupe.adapters.streamlit._turn import TeamsUnavailable, fetch_teams

DEFAULT_SERVER = "http://127.0.0.1:8000"
_TEAMS = "troupe:teams"
_TEAM = "troupe:team"


def main() -> None:
    st.set_page_config(page_title="troupe", page_icon=":material/groups:")
    server = os.environ.get("TROUPE_SERVER") or DEFAULT_SERVER
    api_key = os.environ.get("TROUPE_API_KEY") or None
    with st.sidebar:
        st.title("troupe")
        st.caption(f"Server: `{server}`")
    try:
        teams = _teams(server, api_key)
    except TeamsUnavailable as err:
        st.error(f"{err}\n\n{_HOW_TO_FIX}", icon=":material/cloud_off:")
        st.button("Try again", icon=":material/refresh:", type="primary")
        return
    if not teams:
        st.warning(
            "The server has no teams. Add some under `teams:` in its config file and restart it.",
            icon=":material/group_off:",
        )
        return
    team = _pick(teams)
    st.sidebar.button("Reload teams", icon=":material/refresh:", on_click=_forget_teams)
    st.subheader(team.id)
    about = [team.description, f"Agents: {', '.join(team.agents)}" if team.agents else ""]
    if any(about):
        st.caption(" · ".join(part for part in about if part))
    chat(server, team.id, key=f"chat-{team.id}", api_key=api_key)


def _teams(server: str, api_key: str | None) -> list[TeamInfo]:
    """The server's teams, listed once per session and again on "Reload teams"."""
    cached: list[TeamInfo] | None = st.session_state.get(_TEAMS)
    if cached is None:
        cached = st.session_state[_TEAMS] = fetch_teams(server, api_key)
    return cached


def _forget_teams() -> None:
    st.session_state.pop(_TEAMS, None)


_HOW_TO_FIX = (
    "Start the server with `troupe serve`, or run this app against the right one: "
    "`troupe streamlit --server URL --api-key KEY`. Then press **Try again**."
)


def _pick(teams: list[TeamInfo]) -> TeamInfo:
    ids = [team.id for team in teams]
    wanted = st.query_params.get("team", "")
    if st.session_state.get(_TEAM) not in ids:
        st.session_state[_TEAM] = wanted if wanted in ids else ids[0]
    chosen = st.sidebar.radio(
        "Team",
        ids,
        key=_TEAM,
        captions=[team.description for team in teams],
    )
    st.query_params["team"] = chosen
    return teams[ids.index(chosen)]


if __name__ == "__main__":
    main()
