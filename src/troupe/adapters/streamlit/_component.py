"""``chat(server_url, team, key=...)``: a team's conversation as a Streamlit chat.

Everything the component remembers is a ``ChatState`` in
``st.session_state[key]``, so several can share a page (different keys), in
columns, tabs or the sidebar. The conversation id also goes into the page's
URL (query parameter ``key``), so a reloaded page continues the conversation.
"""

from __future__ import annotations

__all__ = ["chat"]

import re

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from troupe.adapters._base import TurnOutcome, answer_choices
from troupe.adapters.streamlit._state import TRANSCRIPTS, Bubble, ChatState, Note
from troupe.adapters.streamlit._turn import play_turn
from troupe.adapters.streamlit._view import SYSTEM_AUTHOR, TurnView, show_bubble

# Conversation ids as the server accepts them; anything else in a URL is ignored.
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STOPPED = "Stopped. The team did not keep this message."


def chat(
    server_url: str,
    team: str,
    *,
    key: str,
    api_key: str | None = None,
    height: int | None = None,
    remember_in_url: bool = True,
) -> ChatState:
    """Draw a chat with ``team`` of the troupe server at ``server_url``, here.

    ``key`` names the component: its state lives in ``st.session_state[key]``
    and its widgets' keys start with it, so use a different key for each
    chat on a page. ``height`` (pixels) gives the messages a scrolling box of
    that height. With ``remember_in_url`` the conversation id is kept in the
    query parameter ``key``, and a reloaded page continues the conversation.
    Errors (server down, key refused, a failed run) are shown in the chat,
    never raised. Returns the component's state (conversation id, messages).
    """
    state = _load(key, team, remember_in_url)
    header = st.container(horizontal=True, vertical_alignment="center")
    caption = header.empty()
    if header.button("New chat", key=f"{key}:new", icon=":material/add_comment:", type="tertiary"):
        state = _start_over(key, team, remember_in_url)
    box = st.container(height=height) if height else st.container()
    for bubble in state.bubbles:
        show_bubble(box, bubble)
    choices = box.empty()
    chosen = _choices(choices, state, key)
    text = st.chat_input(_placeholder(state), key=f"{key}:input", submit_mode="stop") or chosen
    if text:
        choices.empty()  # answered: the buttons go
        _take_turn(box, state, text, server_url, api_key, key if remember_in_url else None)
    conversation = (
        f"conversation `{state.conversation_id}`" if state.conversation_id else "new chat"
    )
    caption.caption(f"**{team}** · {conversation}")
    return state


def _load(key: str, team: str, remember_in_url: bool) -> ChatState:
    previous = st.session_state.get(key)
    if isinstance(previous, ChatState) and previous.team == team:
        return previous
    if isinstance(previous, ChatState) or not remember_in_url:
        return _start_over(key, team, remember_in_url)  # the key's team changed
    # A new session: a reloaded page continues the conversation in its URL.
    state = ChatState(team=team)
    conversation_id = st.query_params.get(key, "")
    if _CONVERSATION_ID.fullmatch(conversation_id):
        state = TRANSCRIPTS.load(conversation_id, team) or ChatState(
            team=team,
            conversation_id=conversation_id,
            bubbles=[_system_note(f"Continuing conversation `{conversation_id}`.")],
        )
    st.session_state[key] = state
    return state


def _start_over(key: str, team: str, remember_in_url: bool) -> ChatState:
    state = st.session_state[key] = ChatState(team=team)
    if remember_in_url and key in st.query_params:
        del st.query_params[key]
    return state


def _system_note(text: str) -> Bubble:
    return Bubble(SYSTEM_AUTHOR, role="system", parts=[Note("info", text)])


def _choices(slot: DeltaGenerator, state: ChatState, key: str) -> str | None:
    """The question's answers as buttons (approve / reject); the answer of the one clicked."""
    if not state.choices:
        return None
    row = slot.container(horizontal=True)
    chosen = None
    for index, (label, answer) in enumerate(state.choices):
        if row.button(
            label, key=f"{key}:choice:{index}", type="primary" if index == 0 else "secondary"
        ):
            chosen = answer
    return chosen


def _placeholder(state: ChatState) -> str:
    if not state.question:
        return f"Message {state.team}"
    text = " ".join(f"Answer {state.asker}: {state.question}".split())
    return text if len(text) <= 100 else text[:99] + "…"


def _take_turn(
    box: DeltaGenerator,
    state: ChatState,
    text: str,
    server_url: str,
    api_key: str | None,
    url_key: str | None,
) -> None:
    you = Bubble("you", role="user", parts=[text])
    state.bubbles.append(you)
    show_bubble(box, you)
    asked = state.question
    view = TurnView(box)
    outcome: TurnOutcome | None = None
    try:
        outcome = play_turn(
            view,
            server_url,
            state.team,
            text,
            api_key=api_key,
            conversation_id=state.conversation_id,
        )
    finally:
        # Also when the user stopped the run: keep what was shown, and say so.
        state.bubbles.extend(view.bubbles)
        if outcome is None:
            state.bubbles.append(_system_note(_STOPPED))
    view.finish(outcome.stop_reason)
    state.conversation_id = outcome.conversation_id or state.conversation_id
    if outcome.ok:  # after a failed turn the team's question is still open
        asking = outcome.input_requested
        state.question, state.asker = (asking.prompt, asking.agent) if asking else (None, "")
        state.choices = answer_choices(asking) if asking else []
    TRANSCRIPTS.save(state)
    if url_key is not None and state.conversation_id:
        st.query_params[url_key] = state.conversation_id
    if state.question != asked or state.choices:
        st.rerun()  # the chat input's placeholder shows the team's question, the buttons its answers
