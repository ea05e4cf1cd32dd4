"""One turn in a Slack thread: a team's stream, written with Slack's Web API.

``SlackTurn`` fills in the adapter base's hooks. The hooks only change what
the thread should show; one flusher task writes it to Slack, at most once per
``interval`` seconds, so a fast stream costs a few calls, not one per token:

* the answer streams with ``chat.startStream`` / ``appendStream`` /
  ``stopStream``; where Slack refuses streaming it is posted with
  ``chat.postMessage`` and grown with ``chat.update``. A message holds at
  most ``MESSAGE_LIMIT`` characters; the rest goes on in the next one.
* tool calls and handoffs are one compact context block per turn (agent,
  tool, ok/error), edited in place as the work goes on;
* the thread's assistant status ("is thinking…") follows the team and is
  cleared at the end;
* the final message carries the turn as Slack message metadata
  (``troupe_turn``: team, conversation id, stop reason);
* a question the team expects a set answer to (an approval) is followed by
  a message with a button per answer (``ANSWER_ACTION``), beside replying in
  words;
* a failed turn ends with a short apology in the thread.

Text is attributed by ``message_id``: messages of agents writing at once
(parallel graph branches) go into the answer one after another, whole.
"""

from __future__ import annotations

__all__ = ["ANSWER_ACTION", "MESSAGE_LIMIT", "SlackTurn", "ThreadPlace", "TurnNote"]

import logging
from typing import Any, Literal

import aiohttp
import anyio
import msgspec
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from troupe.adapters._base import (
    TeamClient,
    TeamStreamHandler,
    TurnOutcome,
    answer_choices,
    describe_error,
)
from troupe.adapters._sequence import Sequencer
from troupe.adapters.slack._threads import split_point
from troupe.events import (
    AgentFinished,
    AgentStarted,
    HandoffOccurred,
    InputRequested,
    RunEnded,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)

logger = logging.getLogger("troupe.adapters.slack")

# chat.startStream / appendStream / postMessage / update take at most 12,000
# characters of markdown_text; a message is kept within that in total.
MESSAGE_LIMIT = 12_000
METADATA_TYPE = "troupe_turn"
# The action id (a prefix: one per button) of the buttons that answer a team's question.
ANSWER_ACTION = "troupe_answer"
_STEP_LINES = 8
_SLACK_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError)
_ICONS = {
    "running": ":hourglass_flowing_sand:",
    "ok": ":white_check_mark:",
    "error": ":x:",
    "handoff": ":arrow_right:",
}

Mode = Literal["stream", "update"]


class ThreadPlace(msgspec.Struct, frozen=True, kw_only=True):
    """Where a turn is written: the thread, and who asked (streaming needs them in channels)."""

    channel: str
    thread_ts: str
    user: str = ""
    workspace: str = ""


class TurnNote(msgspec.Struct, frozen=True, kw_only=True):
    """What the final message of a turn says about it, as Slack message metadata."""

    team: str
    conversation_id: str
    stop_reason: str = ""
    error: bool = False

    def metadata(self) -> dict[str, Any]:
        return {"event_type": METADATA_TYPE, "event_payload": msgspec.to_builtins(self)}


class _Step(msgspec.Struct, kw_only=True):
    agent: str
    name: str
    state: Literal["running", "ok", "error", "handoff"]
    detail: str = ""


class SlackTurn(TeamStreamHandler):
    """Renders one turn of a team into a Slack thread."""

    def __init__(
        self,
        web: AsyncWebClient,
        place: ThreadPlace,
        *,
        team: str,
        speaker_lines: bool = False,
        interval: float = 1.0,
        limit: int = MESSAGE_LIMIT,
    ) -> None:
        self.web = web
        self.place = place
        self.team = team
        self.speaker_lines = speaker_lines
        self.interval = interval
        self.limit = limit
        self.error: str | None = None
        self.interrupted = False
        # The answer: text not yet written, and the message being written.
        self._pending = ""
        self._answer: list[str] = []
        self._texts: Sequencer[TextDelta] = Sequencer()
        self._text_message_id: str | None = None
        # Answers to offer as buttons once the turn is written (an approval's).
        self._choices: list[tuple[str, str]] = []
        self._message_ts: str | None = None
        self._message_text = ""
        self._mode: Mode | None = None
        self._can_stream = True
        # Tool calls and handoffs, shown in one context block.
        self._steps: list[_Step] = []
        self._calls: dict[str, _Step] = {}
        self._steps_ts: str | None = None
        self._steps_dirty = False
        # The assistant status: what it should say, what Slack shows.
        self._status = "is thinking…"
        self._status_shown = ""
        self._can_set_status = True
        self._wake = anyio.Event()
        self._wake.set()

    # -- the turn

    async def play(self, client: TeamClient, text: str, *, conversation_id: str) -> TurnOutcome:
        """Send ``text`` to the team and write the turn into the thread."""
        outcome = TurnOutcome(conversation_id=conversation_id)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keep_flushing)
                try:
                    outcome = await self.run(
                        client, self.team, text, conversation_id=conversation_id
                    )
                except Exception as err:
                    self.error = describe_error(err, client.server_url)
                    raise
                tg.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            self.interrupted = True
            raise
        finally:
            # Whatever happened, the thread gets the end of the answer (or the apology).
            with anyio.CancelScope(shield=True), anyio.move_on_after(30):
                await self._finish(outcome)
        return outcome

    async def _keep_flushing(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            # A write cut in the middle would lose or repeat text: let it complete.
            with anyio.CancelScope(shield=True):
                await self._flush()
            await anyio.sleep(self.interval)

    async def _flush(self) -> None:
        await self._flush_status()
        await self._flush_steps()
        await self._flush_answer()

    async def _finish(self, outcome: TurnOutcome) -> None:
        self._show_texts(self._texts.drain())
        if self.interrupted and self._answer:
            self._add_text("\n\n_(interrupted)_")
        await self._flush_steps()
        await self._flush_answer()
        note = TurnNote(
            team=self.team,
            conversation_id=outcome.conversation_id or "",
            stop_reason=outcome.stop_reason,
            error=self.error is not None,
        )
        if self._message_ts is not None:
            await self._close_message(note.metadata())
        elif self.error is None and not self._answer and not self.interrupted:
            await self._post(
                text="_The team finished without an answer._", metadata=note.metadata()
            )
        if self.error is not None:
            apology = f":warning: Sorry, the team could not answer. {_shorten(self.error, 400)}"
            await self._post(text=apology, metadata=note.metadata())
        elif self._choices:
            text, blocks = _answer_buttons(self._choices)
            await self._post(text=text, blocks=blocks)
        self._status = ""
        await self._flush_status()

    # -- hooks: they only change what should be shown, then wake the flusher

    async def on_agent_start(self, event: AgentStarted) -> None:
        self._set_status(f"is thinking ({event.agent})…" if self.speaker_lines else "is thinking…")

    async def on_text_delta(self, event: TextDelta) -> None:
        if event.text:
            self._show_texts(self._texts.add(event.message_id, event))

    async def on_agent_end(self, event: AgentFinished) -> None:
        self._show_texts(self._texts.end(event.message_id))

    async def on_run_end(self, event: RunEnded) -> None:
        self._show_texts(self._texts.drain())

    async def on_tool_call(self, event: ToolCalled) -> None:
        step = _Step(agent=event.agent, name=event.name, state="running")
        self._calls[event.call_id] = step
        self._add_step(step)
        self._set_status(f"is running {event.name}…")

    async def on_tool_result(self, event: ToolResultReturned) -> None:
        step = self._calls.pop(event.call_id, None)
        if step is None:
            step = _Step(agent=event.agent, name=event.name, state="running")
            self._add_step(step)
        step.state = "error" if event.is_error else "ok"
        step.detail = _shorten(event.content, 80) if event.is_error else ""
        self._steps_dirty = True
        self._set_status("is thinking…")

    async def on_handoff(self, event: HandoffOccurred) -> None:
        self._add_step(_Step(agent=event.agent, name=event.target, state="handoff"))
        self._set_status(f"is handing over to {event.target}…")

    async def on_input_requested(self, event: InputRequested) -> None:
        self._show_texts(self._texts.drain())
        self._choices = answer_choices(event)
        prompt = event.prompt.strip()
        shown = bool(prompt) and "".join(self._answer).rstrip().endswith(prompt)
        text = "\n\n" if self._answer else ""
        if prompt and not shown:
            text += f"**{event.agent} asks:** {prompt}\n\n"
        if self._choices:
            self._add_text(text + "_Answer with a button below, or reply in this thread._")
        else:
            self._add_text(text + "_Reply in this thread to answer._")

    async def on_error(self, message: str, code: str | None = None) -> None:
        self._show_texts(self._texts.drain())
        self.error = message

    def _show_texts(self, texts: list[TextDelta]) -> None:
        """Agents' text, one whole message after another, each opened by its speaker."""
        for event in texts:
            if event.message_id != self._text_message_id:
                self._text_message_id = event.message_id
                prefix = "\n\n" if self._answer else ""
                if self.speaker_lines:
                    prefix += f"**{event.agent}:** "
                self._add_text(prefix)
            self._add_text(event.text)

    def _add_text(self, text: str) -> None:
        self._pending += text
        self._answer.append(text)
        self._wake.set()

    def _add_step(self, step: _Step) -> None:
        self._steps.append(step)
        self._steps_dirty = True
        self._wake.set()

    def _set_status(self, status: str) -> None:
        self._status = status
        self._wake.set()

    # -- writing to Slack

    async def _flush_status(self) -> None:
        status = self._status
        if not self._can_set_status or status == self._status_shown:
            return
        try:
            await self.web.assistant_threads_setStatus(
                channel_id=self.place.channel, thread_ts=self.place.thread_ts, status=status
            )
        except _SLACK_ERRORS as err:
            # Not an assistant thread, or no assistant:write scope: do without.
            logger.debug("no assistant status in %s: %s", self.place.channel, err)
            self._can_set_status = False
        else:
            self._status_shown = status

    async def _flush_steps(self) -> None:
        if not self._steps_dirty:
            return
        self._steps_dirty = False
        text, blocks = _steps_view(self._steps)
        try:
            if self._steps_ts is None:
                self._steps_ts = await self._post(text=text, blocks=blocks)
            else:
                await self.web.chat_update(
                    channel=self.place.channel, ts=self._steps_ts, text=text, blocks=blocks
                )
        except _SLACK_ERRORS as err:
            logger.warning("could not show the team's steps in %s: %s", self.place.channel, err)

    async def _flush_answer(self) -> None:
        # Only the text pending now: hooks add more while a write is in flight, and that
        # text waits for the next flush (the throttle) instead of looking like an overflow.
        todo = len(self._pending)
        while todo > 0:
            room = self.limit - len(self._message_text)
            cut = split_point(self._pending[:todo], room, can_wait=bool(self._message_text))
            if cut == 0:
                await self._close_message()
                continue
            if not await self._write(self._pending[:cut]):
                return  # Slack failed us; the text stays pending for the next flush
            self._pending = self._pending[cut:]
            todo -= cut
            if todo > 0:
                await self._close_message()  # the message is full: go on in a new one

    async def _write(self, piece: str) -> bool:
        """Add ``piece`` to the answer message (starting one if needed); False if Slack failed."""
        place = self.place
        try:
            if self._message_ts is not None and self._mode == "stream":
                try:
                    await self.web.chat_appendStream(
                        channel=place.channel, ts=self._message_ts, markdown_text=piece
                    )
                except SlackApiError as err:
                    # The stream expired or was refused: the message can still be edited.
                    logger.info("chat.appendStream failed (%s): updating instead", _code(err))
                    self._mode, self._can_stream = "update", False
                else:
                    self._message_text += piece
                    return True
            if self._message_ts is not None:
                await self.web.chat_update(
                    channel=place.channel,
                    ts=self._message_ts,
                    markdown_text=self._message_text + piece,
                )
                self._message_text += piece
                return True
            if self._can_stream:
                try:
                    response = await self.web.chat_startStream(
                        channel=place.channel,
                        thread_ts=place.thread_ts,
                        markdown_text=piece,
                        recipient_user_id=place.user or None,
                        recipient_team_id=place.workspace or None,
                    )
                except SlackApiError as err:
                    logger.info("chat.startStream failed (%s): posting instead", _code(err))
                    self._can_stream = False
                else:
                    self._start_message(str(response["ts"]), "stream", piece)
                    return True
            ts = await self._post(markdown_text=piece)
            if ts is None:
                return False
            self._start_message(ts, "update", piece)
            return True
        except _SLACK_ERRORS as err:
            logger.warning("could not write the answer in %s: %s", place.channel, err)
            return False

    def _start_message(self, ts: str, mode: Mode, text: str) -> None:
        self._message_ts, self._mode, self._message_text = ts, mode, text

    async def _close_message(self, metadata: dict[str, Any] | None = None) -> None:
        ts, mode, text = self._message_ts, self._mode, self._message_text
        self._message_ts, self._mode, self._message_text = None, None, ""
        if ts is None:
            return
        try:
            if mode == "stream":
                await self.web.chat_stopStream(channel=self.place.channel, ts=ts, metadata=metadata)
            elif metadata is not None:
                await self.web.chat_update(
                    channel=self.place.channel, ts=ts, markdown_text=text, metadata=metadata
                )
        except _SLACK_ERRORS as err:
            logger.warning("could not finish the answer in %s: %s", self.place.channel, err)

    async def _post(self, **message: Any) -> str | None:
        """Post a reply in the thread; its ts, or None if Slack refused."""
        try:
            response = await self.web.chat_postMessage(
                channel=self.place.channel, thread_ts=self.place.thread_ts, **message
            )
        except _SLACK_ERRORS as err:
            logger.warning("could not post in %s: %s", self.place.channel, err)
            return None
        return str(response["ts"])


def _steps_view(steps: list[_Step]) -> tuple[str, list[dict[str, Any]]]:
    """A context block listing the latest steps, and a plain-text summary for notifications."""
    shown = steps[-_STEP_LINES:]
    lines = [f"_{len(steps) - len(shown)} earlier steps_"] if len(steps) > len(shown) else []
    for step in shown:
        agent, name = _escape(step.agent), _escape(step.name).replace("`", "'")
        if step.state == "handoff":
            lines.append(f"{_ICONS['handoff']} *{agent}* hands off to *{name}*")
            continue
        line = f"{_ICONS[step.state]} *{agent}* · `{name}`"
        if step.state == "running":
            line += " running"
        elif step.state == "error":
            line += f" failed: {_escape(step.detail)}" if step.detail else " failed"
        lines.append(line)
    summary = ", ".join(
        f"{s.agent} → {s.name}" if s.state == "handoff" else f"{s.agent} used {s.name}"
        for s in steps[-3:]
    )
    block = {"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(lines)}]}
    return _shorten(summary, 300), [block]


def _answer_buttons(choices: list[tuple[str, str]]) -> tuple[str, list[dict[str, Any]]]:
    """A message with a button per answer; each button's value is the answer sent."""
    buttons: list[dict[str, Any]] = []
    for index, (label, answer) in enumerate(choices):
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "value": answer,
            "action_id": f"{ANSWER_ACTION}_{index}",
        }
        if len(choices) == 2:
            button["style"] = "primary" if index == 0 else "danger"
        buttons.append(button)
    text = " or ".join(label for label, _ in choices) + "?"
    return text, [{"type": "actions", "block_id": ANSWER_ACTION, "elements": buttons}]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code(err: SlackApiError) -> str:
    response = err.response
    return str(response.get("error") if response is not None else err)
