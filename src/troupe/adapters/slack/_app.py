"""The Slack bot: a bolt ``AsyncApp`` whose messages start team turns.

Mention the bot in a channel, or write to it directly: each Slack thread is
one troupe conversation, with an id made of the workspace, channel and thread
timestamp. The adapter keeps no map of threads: a reply in a thread without
a mention continues it when the server has the thread's conversation (which
also names its team), so a restarted adapter, or a second one, keeps every
thread. Answers to a team's questions are replies too, or the buttons an
approval offers. A new thread talks to the default team, to the team
``channel_teams`` gives its channel, or to the one chosen with ``/troupe <team>``.

Slack wants an answer to every request within three seconds and delivers
again when it gets none. The listeners therefore only decide and start the
turn in the adapter's own task group (``running()``), then return; the
``event_id`` of every delivery and the (channel, ts) of every message are
remembered, so a redelivery, or the ``app_mention`` and ``message`` events
Slack sends for the same message, never run a team twice.
"""

from __future__ import annotations

__all__ = ["SlackAdapter"]

import logging
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import msgspec
import openai
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from troupe.adapters._base import TeamClient, TeamInfo, describe_error
from troupe.adapters.slack._asgi import SlackASGIApp
from troupe.adapters.slack._render import ANSWER_ACTION, SlackTurn, ThreadPlace
from troupe.adapters.slack._settings import SlackSettings
from troupe.adapters.slack._threads import Recent, ThreadLocks, clean_text, conversation_id

logger = logging.getLogger("troupe.adapters.slack")

CHOOSE_TEAM = "troupe_choose_team"
_CHOOSE_TEAM_ACTION = re.compile(rf"^{CHOOSE_TEAM}")
_ANSWER_ACTION = re.compile(rf"^{ANSWER_ACTION}_")
# Message subtypes a person writes; the rest are edits, joins, bots and the like.
_PEOPLE_SUBTYPES = (None, "file_share", "thread_broadcast")
_TEAMS_TTL = 60.0
_MAX_TEAM_BUTTONS = 40


class _TurnRequest(msgspec.Struct, frozen=True, kw_only=True):
    place: ThreadPlace
    text: str
    conversation_id: str
    # Mentioned, or written to the bot directly: answered in a new thread too. Otherwise
    # only in a thread whose conversation the server has.
    addressed: bool


class SlackAdapter:
    """troupe teams as a Slack bot.

    HTTP mode: serve ``asgi_app()`` with any ASGI server (Slack's events,
    commands and interactivity all go to ``settings.path``). Socket Mode:
    ``await adapter.serve_socket_mode()``. When mounting the ASGI app inside
    another one that does not pass lifespan events on, enter
    ``adapter.running()`` in the host's lifespan instead.
    """

    def __init__(self, settings: SlackSettings, *, team_client: TeamClient | None = None) -> None:
        self.settings = settings
        self.app = AsyncApp(
            name="troupe",
            token=settings.bot_token,
            signing_secret=settings.signing_secret,
            # Listeners only start turns in our task group, so they answer Slack at once.
            process_before_response=True,
        )
        self.web: AsyncWebClient = self.app.client
        # SLACK_API_URL: a Slack-compatible gateway, or a local stand-in in tests.
        self.web.base_url = settings.api_url
        # Slack answers 429 with Retry-After when a method's tier is used up: wait, then retry.
        self.web.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
        self.team_client = team_client or TeamClient(settings.server_url, api_key=settings.api_key)
        self._own_client = team_client is None
        self._channel_teams = dict(settings.channel_teams)
        self._events = Recent()
        self._messages = Recent()
        self._locks = ThreadLocks()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._stopped = False
        self._teams_cache: tuple[float, dict[str, TeamInfo]] | None = None
        self.active_turns = 0
        self._register()

    def _register(self) -> None:
        self.app.use(self._skip_repeated_deliveries)
        self.app.event("app_mention")(self._on_message)
        self.app.event("message")(self._on_message)
        self.app.event("assistant_thread_started")(self._ignore)
        self.app.event("assistant_thread_context_changed")(self._ignore)
        self.app.command(self.settings.command)(self._on_command)
        self.app.action(_CHOOSE_TEAM_ACTION)(self._on_choose_team)
        self.app.action(_ANSWER_ACTION)(self._on_answer)

    # -- running

    @property
    def is_running(self) -> bool:
        return self._task_group is not None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SlackAdapter]:
        """Own the turns: they run in a task group that lives as long as this context.

        On exit, turns under way get ``settings.grace_seconds`` to finish and
        are cancelled after that (what they wrote so far stays in Slack).
        """
        if self._task_group is not None or self._stopped:
            raise RuntimeError("a SlackAdapter runs once: it is running, or has stopped")
        await self._check_server()
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                try:
                    yield self
                finally:
                    self._task_group = None
                    tg.cancel_scope.deadline = anyio.current_time() + self.settings.grace_seconds
        finally:
            self._stopped = True
            if self._own_client:
                with anyio.CancelScope(shield=True):
                    await self.team_client.aclose()

    def asgi_app(self) -> SlackASGIApp:
        """An ASGI app: Slack's requests at ``settings.path``, ``GET /health``, lifespan."""
        return SlackASGIApp(self)

    async def serve_socket_mode(self) -> None:
        """Connect to Slack over Socket Mode and serve until SIGINT or SIGTERM."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        if not self.settings.app_token:
            raise ValueError("Socket Mode needs an app-level token (SLACK_APP_TOKEN, xapp-…)")
        handler = AsyncSocketModeHandler(self.app, self.settings.app_token, web_client=self.web)
        async with self.running():
            await handler.connect_async()  # type: ignore[no-untyped-call]
            logger.info("connected to Slack in Socket Mode")
            try:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        break
            finally:
                with anyio.CancelScope(shield=True):
                    await handler.close_async()  # type: ignore[no-untyped-call]

    async def _check_server(self) -> None:
        """Say at startup whether the server answers and has the default team; never fatal."""
        try:
            with anyio.fail_after(5):
                teams = await self._teams(fresh=True)
        except (openai.APIError, TimeoutError) as err:
            logger.warning("%s The bot will apologise until it can.", _describe(err, self))
            return
        if self.settings.team not in teams:
            logger.warning(
                "the server at %s has no team %r (it has: %s)",
                self.team_client.server_url,
                self.settings.team,
                ", ".join(teams) or "none",
            )

    # -- Slack's requests

    async def _skip_repeated_deliveries(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not self._events.add(event_id):
            logger.info("event %s delivered again: already handled", event_id)
            return BoltResponse(status=200, body="")
        await next()
        return None

    async def _ignore(self) -> None:
        """Events the app subscribes to but has nothing to do for."""

    async def _on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        request = self._turn_request(event, body, context.bot_user_id)
        if request is not None:
            self._start(request)

    def _start(self, request: _TurnRequest) -> None:
        if self._task_group is None:
            raise RuntimeError(
                "the Slack adapter is not running: serve asgi_app() with lifespan events, "
                "or enter adapter.running()"
            )
        self._task_group.start_soon(self._turn, request, name=f"slack turn {request.place}")

    def _turn_request(
        self, event: dict[str, Any], body: dict[str, Any], bot_user_id: str | None
    ) -> _TurnRequest | None:
        """The turn a message may start, or None when it is not for the bot."""
        user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
        if event.get("subtype") not in _PEOPLE_SUBTYPES or event.get("bot_id"):
            return None  # other bots (the bot itself is dropped by bolt), edits, joins
        if not user or user == bot_user_id or not channel or not ts:
            return None
        raw = str(event.get("text") or "")
        mentioned = event.get("type") == "app_mention" or (
            bool(bot_user_id) and f"<@{bot_user_id}" in raw
        )
        direct = event.get("channel_type") == "im"
        if not (mentioned or direct or event.get("thread_ts")):
            return None  # a channel message for people: only replies in threads may be ours
        if not self._messages.add((channel, ts)):
            return None  # the same message as app_mention and as message, or a retry
        thread_ts = str(event.get("thread_ts") or ts)
        workspace = str(event.get("team") or body.get("team_id") or "")
        return _TurnRequest(
            place=ThreadPlace(
                channel=channel,
                thread_ts=thread_ts,
                user=user,
                workspace=str(event.get("user_team") or workspace),
            ),
            text=clean_text(raw, bot_user_id),
            conversation_id=conversation_id(workspace, channel, thread_ts),
            addressed=mentioned or direct,
        )

    async def _team_of(self, request: _TurnRequest) -> str | None:
        """The team of the request's thread: the server's conversation's, or the channel's
        for a new thread the bot is addressed in; None for a thread the bot is not in."""
        try:
            known = await self.team_client.conversation(request.conversation_id)
        except openai.APIError as err:
            if not request.addressed:
                logger.warning(
                    "cannot tell whether %s is the bot's: %s",
                    request.conversation_id,
                    _describe(err, self),
                )
                return None
            known = None  # the turn itself will say what is wrong with the server
        if known is not None:
            return known.team
        return self.team_for_channel(request.place.channel) if request.addressed else None

    def team_for_channel(self, channel: str) -> str:
        """The team new threads in ``channel`` talk to."""
        return self._channel_teams.get(channel, self.settings.team)

    async def _turn(self, request: _TurnRequest) -> None:
        self.active_turns += 1
        try:
            # One turn at a time per thread: a reply waits for the turn before it, whose
            # conversation the server has by then.
            async with self._locks.hold((request.place.channel, request.place.thread_ts)):
                team = await self._team_of(request)
                if team is None:
                    return
                if not request.text:
                    await self._say_hello(request, team)
                    return
                turn = SlackTurn(
                    self.web,
                    request.place,
                    team=team,
                    speaker_lines=await self._speaker_lines(team),
                    interval=self.settings.update_interval,
                )
                started = time.monotonic()
                outcome = await turn.play(
                    self.team_client, request.text, conversation_id=request.conversation_id
                )
                logger.info(
                    "turn of %s in %s: %s in %.1f s",
                    team,
                    outcome.conversation_id,
                    outcome.error or outcome.stop_reason,
                    time.monotonic() - started,
                )
        except Exception:
            # A bug in one turn must not take the bot down; SlackTurn has apologised in the thread.
            logger.exception("turn in %s failed", request.conversation_id)
        finally:
            self.active_turns -= 1

    async def _say_hello(self, request: _TurnRequest, team: str) -> None:
        await self.web.chat_postMessage(
            channel=request.place.channel,
            thread_ts=request.place.thread_ts,
            text=f"Hi! Ask me something and team *{team}* will answer in this thread.",
        )

    async def _speaker_lines(self, team: str) -> bool:
        """Name the speaker of each message when the team has more than one agent."""
        try:
            info = (await self._teams()).get(team)
        except openai.APIError:
            return False  # the turn itself will report the server's trouble
        return info is not None and len(info.agents) > 1

    async def _teams(self, *, fresh: bool = False) -> dict[str, TeamInfo]:
        now = time.monotonic()
        if fresh or self._teams_cache is None or now - self._teams_cache[0] > _TEAMS_TTL:
            teams = {info.id: info for info in await self.team_client.teams()}
            self._teams_cache = (now, teams)
        return self._teams_cache[1]

    # -- choosing a channel's team: /troupe [team], and the buttons it shows

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        channel = str(command.get("channel_id") or "")
        wanted = str(command.get("text") or "").strip()
        try:
            with anyio.fail_after(2.5):  # Slack gives a command three seconds
                teams = await self._teams(fresh=True)
        except (openai.APIError, TimeoutError) as err:
            await ack(text=f":warning: {_describe(err, self)}")
            return
        current = self.team_for_channel(channel)
        if not wanted or wanted == "help":
            text = f"This channel talks to team *{current}*. Choose another:"
            await ack(text=text, blocks=_team_picker(text, teams, current))
        elif wanted not in teams:
            names = ", ".join(f"`{name}`" for name in teams) or "none"
            await ack(text=f"There is no team `{wanted}`. The server has: {names}.")
        else:
            self._channel_teams[channel] = wanted
            user = command.get("user_id")
            who = f"<@{user}> chose" if user else "Now"
            await ack(
                response_type="in_channel",
                text=f"{who} team *{wanted}* for this channel: mention me to talk to it. "
                "Threads already under way keep their team.",
            )

    async def _on_choose_team(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        team = str(action.get("value") or "")
        channel = str(
            (body.get("channel") or {}).get("id")
            or (body.get("container") or {}).get("channel_id")
            or ""
        )
        try:
            known = team in await self._teams()
        except openai.APIError as err:
            await respond(text=f":warning: {_describe(err, self)}", replace_original=False)
            return
        if not known or not channel:
            await respond(text=f"There is no team `{team}` any more.", replace_original=False)
            return
        self._channel_teams[channel] = team
        await respond(
            text=f"Team *{team}* now answers in this channel: mention me to talk to it.",
            replace_original=True,
        )

    # -- the buttons under a team's question (an approval's approve / reject)

    async def _on_answer(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        user = body.get("user") or {}
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
        thread_ts = str(container.get("thread_ts") or message.get("thread_ts") or "")
        answer = str(action.get("value") or "")
        if not (user.get("id") and channel and thread_ts and answer):
            return
        if not self._messages.add((channel, "answered", str(message.get("ts") or thread_ts))):
            return  # a second press before the buttons went
        label = str((action.get("text") or {}).get("text") or answer)
        await respond(text=f"<@{user['id']}> chose *{label}*.", replace_original=True)
        workspace = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        self._start(
            _TurnRequest(
                place=ThreadPlace(
                    channel=channel,
                    thread_ts=thread_ts,
                    user=str(user["id"]),
                    workspace=str(user.get("team_id") or workspace),
                ),
                text=answer,
                conversation_id=conversation_id(workspace, channel, thread_ts),
                addressed=False,  # the question's conversation must still be there
            )
        )


def _team_picker(text: str, teams: dict[str, TeamInfo], current: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    for index, info in enumerate(list(teams.values())[:_MAX_TEAM_BUTTONS]):
        line = f"*{info.id}*" + (f" — {info.description}" if info.description else "")
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Chosen" if info.id == current else "Choose"},
            "value": info.id,
            "action_id": f"{CHOOSE_TEAM}_{index}",
        }
        if info.id == current:
            button["style"] = "primary"
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": line[:3000]},
                "accessory": button,
            }
        )
    return blocks


def _describe(err: BaseException, adapter: SlackAdapter) -> str:
    if isinstance(err, TimeoutError):
        return f"The troupe server at {adapter.team_client.server_url} did not answer in time."
    return describe_error(err, adapter.team_client.server_url)
