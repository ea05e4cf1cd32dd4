# Chainlit's API is only partly annotated (user_session.get/set, Message.send have none).
# mypy: disallow-untyped-calls=False
"""troupe in a Chainlit app: the server's teams as chat profiles, replies as rendered turns."""

from __future__ import annotations

__all__ = ["CONVERSATIONS_KEY", "QUESTION_KEY", "TroupeChainlit"]

import logging
import os
import time
from typing import Any

import anyio
import chainlit as cl
import openai
from chainlit.user import User

from troupe.adapters._base import TeamClient, TeamInfo, TurnOutcome, describe_error
from troupe.adapters.chainlit._render import ANSWER_ACTION, NOT_KEPT, ChainlitRenderer

logger = logging.getLogger("troupe.adapters.chainlit")

DEFAULT_SERVER = "http://127.0.0.1:8000"
# The user session key holding {team: conversation id} for the chat.
CONVERSATIONS_KEY = "troupe_conversations"
# The user session key holding the team's question whose answers are buttons.
QUESTION_KEY = "troupe_question"


class TroupeChainlit:
    """Connects a Chainlit app to a troupe server.

    ``attach()`` registers everything with Chainlit: every team on the server
    becomes a chat profile, and each message the user sends is answered by the
    profile's team, rendered by ``renderer`` (a ``ChainlitRenderer`` class). The
    conversation id the server returns is kept in the Chainlit user session and
    sent back with the next message, so the team keeps its state (and an input
    request is answered by the user's next message, typed or chosen with the
    question's buttons: an approval's approve / reject). Chainlit's stop button
    cancels the reply, which closes the request, and the server stops the run.

    In your own Chainlit app, call the pieces from your own hooks instead::

        troupe = TroupeChainlit("http://127.0.0.1:8000", api_key="sk-...", team="writers")

        @cl.on_message
        async def on_message(message: cl.Message) -> None:
            outcome = await troupe.reply(message)   # renders the team's turn
            if outcome.input_requested:
                ...

    With ``team`` set there are no chat profiles; every message goes to that team.
    """

    def __init__(
        self,
        server_url: str = DEFAULT_SERVER,
        *,
        api_key: str | None = None,
        team: str | None = None,
        renderer: type[ChainlitRenderer] = ChainlitRenderer,
        timeout: float = 600.0,
        profiles_ttl: float = 10.0,
        http_client: Any = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.api_key = api_key
        self.team = team
        self.renderer = renderer
        self.timeout = timeout
        # Chainlit asks for the profiles on each page load and again when the
        # socket connects (from inside a nested event loop run): one answer
        # serves both, and a fresh one comes after ``profiles_ttl`` seconds.
        self.profiles_ttl = profiles_ttl
        self._http_client = http_client
        self._client: TeamClient | None = None
        self._teams: dict[str, TeamInfo] = {}
        self._teams_at = -float("inf")

    @classmethod
    def from_env(cls, **kwargs: Any) -> TroupeChainlit:
        """Configured by ``TROUPE_SERVER``, ``TROUPE_API_KEY`` and ``TROUPE_TEAM`` (optional)."""
        return cls(
            os.environ.get("TROUPE_SERVER") or DEFAULT_SERVER,
            api_key=os.environ.get("TROUPE_API_KEY") or None,
            team=os.environ.get("TROUPE_TEAM") or None,
            **kwargs,
        )

    @property
    def client(self) -> TeamClient:
        if self._client is None:
            self._client = TeamClient(
                self.server_url,
                api_key=self.api_key,
                timeout=self.timeout,
                http_client=self._http_client,
            )
        return self._client

    def attach(self) -> TroupeChainlit:
        """Register chat profiles, ``on_chat_start``, ``on_message`` and the answer buttons."""
        cl.set_chat_profiles(self.chat_profiles)
        cl.on_chat_start(self.start)
        cl.on_message(self.reply)
        cl.action_callback(ANSWER_ACTION)(self._on_answer)
        return self

    async def _on_answer(self, action: cl.Action) -> None:
        # Chainlit sends what an action callback returns to the browser, as JSON.
        await self.answer(action)

    async def teams(self) -> list[TeamInfo]:
        """The server's teams (raises ``openai.APIError`` when it cannot say)."""
        teams = await self.client.teams()
        self._teams = {team.id: team for team in teams}
        self._teams_at = time.monotonic()
        return teams

    async def chat_profiles(
        self, user: User | None = None, language: str | None = None
    ) -> list[cl.ChatProfile]:
        """One chat profile per team, or none with a fixed ``team`` or an unreachable server."""
        if self.team is not None:
            return []
        if time.monotonic() - self._teams_at < self.profiles_ttl:
            teams = list(self._teams.values())
        else:
            try:
                teams = await self.teams()
            except openai.APIError as err:
                logger.warning("no chat profiles: %s", describe_error(err, self.server_url))
                return []
        return [
            cl.ChatProfile(name=team.id, markdown_description=_describe(team), default=index == 0)
            for index, team in enumerate(teams)
        ]

    async def start(self) -> None:
        """A new chat: a new conversation; says so at once if the server cannot be reached."""
        cl.user_session.set(CONVERSATIONS_KEY, {})
        if self.team is None and not cl.user_session.get("chat_profile"):
            try:
                await self.teams()
            except openai.APIError as err:
                error = describe_error(err, self.server_url)
                await cl.ErrorMessage(content=error, author="troupe").send()

    def conversation_id(self, team: str) -> str | None:
        """The conversation this chat has with ``team``, once the server has named it."""
        conversations: dict[str, str] = cl.user_session.get(CONVERSATIONS_KEY) or {}
        return conversations.get(team)

    async def answer(self, action: cl.Action) -> TurnOutcome:
        """A button of the team's question was pressed: its answer is the user's next message."""
        text = str(action.payload.get("answer") or "")
        message = cl.Message(content=text, type="user_message", author="User")
        await message.send()
        # Run as Chainlit runs on_message, so the turn's steps nest the same way.
        async with cl.Step(name="on_message", type="run", parent_id=message.id) as step:
            step.input = text
            return await self.reply(message)

    async def reply(self, message: cl.Message | str) -> TurnOutcome:
        """Send the user's message to the chat's team and render the team's turn."""
        text = message if isinstance(message, str) else message.content
        question: cl.Message | None = cl.user_session.get(QUESTION_KEY)
        if question is not None:  # answered, by a button or in words: its buttons go
            cl.user_session.set(QUESTION_KEY, None)
            await question.remove_actions()
        try:
            team = await self._team()
        except openai.APIError as err:
            return await _error(describe_error(err, self.server_url))
        if team is None:
            return await _error(f"The troupe server at {self.server_url} has no teams.")
        renderer = self.renderer(speaker_lines=await self._several_agents(team))
        try:
            outcome = await renderer.run(
                self.client, team, text, conversation_id=self.conversation_id(team)
            )
        except BaseException as exc:  # the stop button, or a bug: finish what is on the page
            with anyio.CancelScope(shield=True):
                await renderer.close(stopped=isinstance(exc, anyio.get_cancelled_exc_class()))
            raise
        await renderer.close()
        cl.user_session.set(QUESTION_KEY, renderer.question)
        if outcome.conversation_id:
            conversations = cl.user_session.get(CONVERSATIONS_KEY) or {}
            conversations[team] = outcome.conversation_id
            cl.user_session.set(CONVERSATIONS_KEY, conversations)
        return outcome

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _team(self) -> str | None:
        if self.team is not None:
            return self.team
        profile = cl.user_session.get("chat_profile")
        if profile:
            return str(profile)
        teams = await self.teams()
        return teams[0].id if teams else None

    async def _several_agents(self, team: str) -> bool:
        if team not in self._teams:
            try:
                await self.teams()
            except openai.APIError:
                return False  # the turn itself will say what is wrong
        info = self._teams.get(team)
        return info is not None and len(info.agents) > 1


def _describe(team: TeamInfo) -> str:
    lines = [team.description or f"The {team.id} team."]
    if len(team.agents) > 1:
        lines.append(f"Agents: {', '.join(team.agents)}.")
    return "\n\n".join(lines)


async def _error(message: str) -> TurnOutcome:
    await cl.ErrorMessage(content=f"{message}\n\n{NOT_KEPT}", author="troupe").send()
    return TurnOutcome(error=message)
