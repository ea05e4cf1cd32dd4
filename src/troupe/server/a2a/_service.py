"""A2A's operations on runs: send a message (start or continue a task), find, list, cancel.

Every task runs in the background: a client that goes away finds it again with
``GetTask`` or ``SubscribeToTask``, on any replica.
"""

from __future__ import annotations

__all__ = ["A2ATasks"]

import base64
import re

from a2a.types import a2a_pb2 as pb
from google.protobuf import json_format

from troupe.errors import TroupeError
from troupe.messages import UserMessage
from troupe.runs import LiveRun, RunManager, RunNotFoundError, RunStart
from troupe.server._service import check_conversation_id, run_input
from troupe.server.a2a._rpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    TASK_NOT_CANCELABLE,
    TASK_NOT_FOUND,
    UNSUPPORTED_OPERATION,
    RpcError,
)
from troupe.server.a2a._tasks import TASK_KEY, task_of, task_state
from troupe.store import ACTIVE, RunRecord
from troupe.teams import Team

MAX_TASKS = 100
# ListTasks: the newest runs of the key (or of the context) it looks at, its page sizes.
LISTED_RUNS = 1000
DEFAULT_PAGE = 50
MAX_PAGE = 100
# A task's id is the id of the run that started it: anything else is no task.
_TASK_ID = re.compile(r"run_[0-9a-f]{1,64}")


def _order(task: pb.Task) -> tuple[int, str]:
    """Where a task is listed: by its last update, newest first (ties by id)."""
    return task.status.timestamp.ToNanoseconds(), task.id


def _token(task: pb.Task) -> str:
    """The page token after ``task``: its place in the order, opaque to the client."""
    stamp, task_id = _order(task)
    return base64.urlsafe_b64encode(f"{stamp}:{task_id}".encode()).decode()


def _cursor(token: str) -> tuple[int, str]:
    try:
        stamp, task_id = base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)
        return int(stamp), task_id
    except (ValueError, UnicodeError):
        raise RpcError(
            INVALID_PARAMS,
            "Invalid params: 'pageToken' is not a token this server gave (use nextPageToken)",
        ) from None


def _text(message: pb.Message) -> str:
    pieces = []
    for part in message.parts:
        if part.HasField("text"):
            pieces.append(part.text)
        elif part.HasField("data"):
            pieces.append(json_format.MessageToJson(part.data, indent=None))
    return "\n".join(p for p in pieces if p)


def as_rpc_error(err: TroupeError) -> RpcError:
    if err.status_code == 404:
        return RpcError(TASK_NOT_FOUND, err.message)
    if err.status_code == 400:
        return RpcError(INVALID_PARAMS, f"Invalid params: {err.message}")
    return RpcError(INTERNAL_ERROR, err.message)


class A2ATasks:
    def __init__(self, manager: RunManager, team: Team, scope: str) -> None:
        self.manager = manager
        self.team = team
        self.scope = scope

    async def _runs(self, conversation_id: str | None, limit: int = MAX_TASKS) -> list[RunRecord]:
        """The scope's runs (of one conversation), newest first, this replica's fresher."""
        stored = await self.manager.store.list_runs(
            scope=self.scope, conversation_id=conversation_id, limit=limit
        )
        local = self.manager.local_runs(conversation_id, self.scope) if conversation_id else []
        ids = {run.id for run in local}
        runs = [*local, *(run for run in stored if run.id not in ids)]
        return sorted(runs, key=lambda run: run.created_at, reverse=True)

    async def head(self, task_id: str) -> RunRecord:
        """The newest run of the task (the run that started it, or the last one continuing it)."""
        if not _TASK_ID.fullmatch(task_id):
            # Not looked up: no store need take an id it cannot hold (PostgreSQL: NUL).
            raise RpcError(TASK_NOT_FOUND, f"Task not found: {task_id[:64]!r}")
        try:
            first = await self.manager.get(task_id, self.scope)
        except RunNotFoundError:
            raise RpcError(TASK_NOT_FOUND, f"Task not found: {task_id[:64]!r}") from None
        if first.team != self.team.name:
            raise RpcError(TASK_NOT_FOUND, f"Task not found: {task_id[:64]!r}")
        for run in await self._runs(first.conversation_id):
            if run.id == task_id or run.input.metadata.get(TASK_KEY) == task_id:
                return run if run.id != task_id else first
        return first

    async def task(self, task_id: str, history_length: int | None = None) -> pb.Task:
        head = await self.head(task_id)
        record, events = await self.manager.events(head.id, self.scope)
        return task_of(record, events, task_id, history_length=history_length)

    async def send(self, request: pb.SendMessageRequest) -> tuple[LiveRun, str]:
        """Start the run the message asks for; returns it and the task id it belongs to."""
        message = request.message
        text = _text(message)
        if not text:
            raise RpcError(INVALID_PARAMS, "Invalid params: the message has no text or data part")
        task_id = message.task_id or None
        conversation_id = message.context_id or None
        metadata = {"a2a_message_id": message.message_id[:128]}
        if task_id is not None:
            head = await self.head(task_id)
            if head.status != "requires_input":
                raise RpcError(
                    UNSUPPORTED_OPERATION,
                    f"task {task_id!r} is {task_state(head.status)!r}, not waiting for input: "
                    "send a new message without taskId (same contextId) to go on",
                )
            conversation_id = head.conversation_id
            metadata[TASK_KEY] = task_id
        elif conversation_id is not None:
            try:
                check_conversation_id(conversation_id, param="contextId")
            except TroupeError as err:
                raise as_rpc_error(err) from None
        team = self.team
        start = RunStart(
            team=team.name,
            scope=self.scope,
            conversation_id=conversation_id,
            messages=(UserMessage(content=text),),
            background=True,
            input=run_input(team, api="a2a", metadata=metadata),
        )
        try:
            run = await self.manager.start(start)
        except TroupeError as err:
            raise as_rpc_error(err) from None
        return run, task_id or run.id

    async def list(self, request: pb.ListTasksRequest) -> pb.ListTasksResponse:
        """The team's tasks, most recently updated first (each as its newest run stands), a
        page at a time: ``pageToken`` is the ``nextPageToken`` of the page before."""
        size = request.page_size if request.HasField("page_size") else DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            raise RpcError(
                INVALID_PARAMS, f"Invalid params: 'pageSize' must be 1 to {MAX_PAGE}, not {size}"
            )
        if request.HasField("history_length") and request.history_length < 0:
            raise RpcError(INVALID_PARAMS, "Invalid params: 'historyLength' must be 0 or more")
        after = _cursor(request.page_token) if request.page_token else None
        if request.context_id:
            try:
                check_conversation_id(request.context_id, param="contextId")
            except TroupeError as err:
                raise as_rpc_error(err) from None
        runs = [
            run
            for run in await self._runs(request.context_id or None, LISTED_RUNS)
            if run.team == self.team.name and run.input.api == "a2a"
        ]
        heads: dict[str, RunRecord] = {}
        for run in runs:  # newest first: the first run seen of a task is its head
            heads.setdefault(run.input.metadata.get(TASK_KEY, run.id), run)
        history = request.history_length if request.HasField("history_length") else 0
        tasks = [
            task_of(heads[run.id], [], run.id, history_length=history)
            for run in runs
            if TASK_KEY not in run.input.metadata
        ]
        if request.status:
            tasks = [task for task in tasks if task.status.state == request.status]
        if request.HasField("status_timestamp_after"):
            since = request.status_timestamp_after.ToNanoseconds()
            tasks = [task for task in tasks if task.status.timestamp.ToNanoseconds() >= since]
        tasks.sort(key=_order, reverse=True)
        total = len(tasks)
        if after is not None:
            tasks = [task for task in tasks if _order(task) < after]
        page, rest = tasks[:size], tasks[size:]
        if request.include_artifacts or history:
            # The page's tasks with what their events hold (answers, messages).
            page = [await self.task(task.id, history) for task in page]
            if not request.include_artifacts:
                for task in page:
                    task.ClearField("artifacts")
        return pb.ListTasksResponse(
            tasks=page,
            next_page_token=_token(page[-1]) if rest else "",
            page_size=size,
            total_size=total,
        )

    async def cancel(self, task_id: str) -> pb.Task:
        head = await self.head(task_id)
        if head.status not in ACTIVE:
            raise RpcError(
                TASK_NOT_CANCELABLE,
                f"Task cannot be canceled: task {task_id!r} is already {task_state(head.status)!r}",
            )
        await self.manager.cancel(head.id, self.scope)
        return await self.task(task_id)
