"""A Chainlit chat without a browser: the socket events, applied as Chainlit's React client does.

``Page`` is a Chainlit emitter. Each step or message the app sends is merged
into a tree by id, tokens are appended to the output they stream into, and a
step whose parent is not on the page fails the test (the real client drops it
without a word).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import chainlit as cl
from chainlit.context import ChainlitContext, context_var
from chainlit.emitter import BaseChainlitEmitter
from chainlit.session import HTTPSession


class Page(BaseChainlitEmitter):
    def __init__(self, session: HTTPSession) -> None:
        super().__init__(session)
        self.steps: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, list[str]] = defaultdict(list)
        self.actions: dict[str, dict[str, Any]] = {}  # buttons on the page, by id

    async def emit(self, event: str, data: Any) -> None:
        if event == "action":
            assert data["forId"] in self.steps, "a button for a message not on the page"
            self.actions[data["id"]] = data
        elif event == "remove_action":
            del self.actions[data["id"]]

    async def send_step(self, step_dict: Any) -> None:
        self._upsert(step_dict)

    async def update_step(self, step_dict: Any) -> None:
        self._upsert(step_dict)

    async def stream_start(self, step_dict: Any) -> None:
        self._upsert(step_dict)

    async def send_token(
        self, id: str, token: str, is_sequence: bool = False, is_input: bool = False
    ) -> None:
        step = self.steps[id]
        key = "input" if is_input else "output"
        step[key] = token if is_sequence else step[key] + token
        self.tokens[id].append(token)

    async def delete_step(self, step_dict: Any) -> None:
        del self.steps[step_dict["id"]]

    def _upsert(self, step: Any) -> None:
        if step["id"] in self.steps:
            self.steps[step["id"]].update(step)
            return
        parent = step.get("parentId")
        assert parent is None or parent in self.steps, f"{step['name']!r}: parent not on the page"
        self.steps[step["id"]] = dict(step)

    def shown(self) -> list[tuple[str, str, str]]:
        """(type, name, text) of what the user sees, in order, without Chainlit's run steps."""
        return [
            (s["type"], s["name"], s["output"])
            for s in self.steps.values()
            if s["type"] != "run" and s["type"] != "user_message"
        ]

    def buttons(self, step_id: str) -> list[cl.Action]:
        """The buttons under a message, as the actions the app will be called with."""
        return [
            cl.Action(**{k: v for k, v in a.items() if k in ("name", "payload", "label", "id")})
            for a in self.actions.values()
            if a["forId"] == step_id
        ]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [s for s in self.steps.values() if s["type"] == kind]


def open_page(chat_profile: str | None = None) -> Page:
    """A fresh Chainlit session whose output goes to a ``Page`` (call inside the test)."""
    session = HTTPSession(id=str(uuid.uuid4()), client_type="webapp")
    session.chat_profile = chat_profile
    page = Page(session)
    context_var.set(ChainlitContext(session, emitter=page))
    return page


async def user_says(text: str) -> cl.Message:
    message = cl.Message(content=text, type="user_message", author="User")
    await message.send()
    return message
