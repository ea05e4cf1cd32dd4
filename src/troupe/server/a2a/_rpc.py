"""A2A's JSON-RPC: the envelope, the error codes, and the two dialects clients speak.

A2A 1.0 (``SendMessage``, ``GetTask``, …) carries its types as ProtoJSON;
0.3 (``message/send``, ``tasks/get``, …) as its own JSON (``kind`` tags,
``final`` flags). Requests of both become the SDK's v1.0 types and answers
are written back in the request's dialect with the SDK's own conversions.
"""

from __future__ import annotations

__all__ = [
    "METHODS",
    "Call",
    "Dialect",
    "RpcError",
    "parse_call",
    "rpc_error",
    "rpc_result",
]

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import pydantic
from a2a.compat.v0_3 import conversions
from a2a.compat.v0_3 import types as v03
from a2a.types import a2a_pb2 as pb
from google.protobuf import json_format
from google.protobuf.message import Message as Proto

from troupe.errors import RequestError
from troupe.server._schemas import check_depth, decode_request_body

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002
UNSUPPORTED_OPERATION = -32004

_P = TypeVar("_P", bound=Proto)
_encode = msgspec.json.Encoder().encode


class RpcError(Exception):
    """A JSON-RPC error answer: ``code`` and ``message``; ``parse_call``'s also say the
    request's id (if it has a valid one) and whether it was a notification."""

    def __init__(
        self,
        code: int,
        message: str,
        request_id: str | int | None = None,
        *,
        notification: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.notification = notification


class Call(msgspec.Struct, frozen=True, kw_only=True):
    id: str | int | None
    # A request without "id": carried out, answered with no body.
    notification: bool
    # The operation, whatever the dialect: send, stream, get, list, cancel, subscribe.
    operation: str
    legacy: bool
    params: dict[str, Any]


METHODS: dict[str, tuple[str, bool]] = {
    "SendMessage": ("send", False),
    "SendStreamingMessage": ("stream", False),
    "GetTask": ("get", False),
    "ListTasks": ("list", False),
    "CancelTask": ("cancel", False),
    "SubscribeToTask": ("subscribe", False),
    "message/send": ("send", True),
    "message/stream": ("stream", True),
    "tasks/get": ("get", True),
    "tasks/cancel": ("cancel", True),
    "tasks/resubscribe": ("subscribe", True),
}


def _read(body: bytes) -> Any:
    """The body's JSON, as chat completions reads it (UTF-8, not nested too deeply)."""
    try:
        request = decode_request_body(body, object)
        check_depth(request, "the request")
    except RequestError as err:
        raise RpcError(PARSE_ERROR, f"Parse error: {err.message}") from None
    return request


def parse_call(body: bytes) -> Call:
    """The JSON-RPC request, or the ``RpcError`` JSON-RPC prescribes (with the request's id,
    if it has a valid one)."""
    request = _read(body)
    if not isinstance(request, dict):
        raise RpcError(INVALID_REQUEST, "Invalid Request: send one JSON-RPC request object")
    request_id = request.get("id")
    if request_id is not None and (
        isinstance(request_id, bool) or not isinstance(request_id, (str, int))
    ):
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'id' must be a string or a number")
    if request.get("jsonrpc") != "2.0":
        message = "Invalid Request: 'jsonrpc' must be \"2.0\""
        raise RpcError(INVALID_REQUEST, message, request_id)
    method = request.get("method")
    if not isinstance(method, str):
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'method' must be a string", request_id)
    # A valid request without "id": carried out all the same, but never answered.
    notification = "id" not in request
    if method not in METHODS:
        known = ", ".join(METHODS)
        message = f"Method not found: {method[:64]!r} (methods: {known})"
        raise RpcError(METHOD_NOT_FOUND, message, request_id, notification=notification)
    params = request.get("params", {})
    if not isinstance(params, dict):
        message = "Invalid params: 'params' must be an object"
        raise RpcError(INVALID_PARAMS, message, request_id, notification=notification)
    operation, legacy = METHODS[method]
    return Call(
        id=request_id,
        notification=notification,
        operation=operation,
        legacy=legacy,
        params=params,
    )


def rpc_result(request_id: str | int | None, result: Any) -> bytes:
    return _encode({"jsonrpc": "2.0", "id": request_id, "result": result})


def rpc_error(request_id: str | int | None, code: int, message: str) -> bytes:
    return _encode(
        {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    )


def _invalid(err: Exception) -> RpcError:
    return RpcError(INVALID_PARAMS, f"Invalid params: {err}"[:500])


def _dump(model: pydantic.BaseModel) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class Dialect:
    """How one client speaks: its requests as v1.0 types, v1.0 answers in its JSON."""

    def __init__(self, legacy: bool) -> None:
        self.legacy = legacy

    def send_request(self, params: dict[str, Any]) -> pb.SendMessageRequest:
        if self.legacy:
            try:
                compat = v03.MessageSendParams.model_validate(params)
            except pydantic.ValidationError as err:
                raise _invalid(err) from None
            request = v03.SendMessageRequest(id=0, params=compat)
            return conversions.to_core_send_message_request(request)
        request = self._parse(params, pb.SendMessageRequest())
        if not request.HasField("message"):
            raise RpcError(INVALID_PARAMS, "Invalid params: 'message' is required")
        if request.message.role not in (pb.ROLE_USER, pb.ROLE_AGENT):
            raise RpcError(
                INVALID_PARAMS, "Invalid params: 'message.role' must be ROLE_USER or ROLE_AGENT"
            )
        return request

    def task_id(self, params: dict[str, Any]) -> tuple[str, int | None]:
        """The task a get/cancel/subscribe names, and the history length asked for."""
        if self.legacy:
            try:
                query = v03.TaskQueryParams.model_validate(params)
            except pydantic.ValidationError as err:
                raise _invalid(err) from None
            task_id, history = query.id, query.history_length
        else:
            request = self._parse(params, pb.GetTaskRequest())
            if not request.id:
                raise RpcError(INVALID_PARAMS, "Invalid params: 'id' (the task id) is required")
            task_id = request.id
            history = request.history_length if request.HasField("history_length") else None
        if history is not None and history < 0:
            raise RpcError(INVALID_PARAMS, "Invalid params: 'historyLength' must be 0 or more")
        return task_id, history

    def list_request(self, params: dict[str, Any]) -> pb.ListTasksRequest:
        # An unknown state would be read as "any state": it is an error instead.
        states = pb.TaskState.keys()
        status = params.get("status", 0)
        if isinstance(status, bool) or status not in [*states, *pb.TaskState.values()]:
            raise RpcError(
                INVALID_PARAMS, f"Invalid params: 'status' must be one of {', '.join(states)}"
            )
        return self._parse(params, pb.ListTasksRequest())

    @staticmethod
    def _parse(params: dict[str, Any], message: _P) -> _P:
        try:
            json_format.ParseDict(params, message, ignore_unknown_fields=True)
        except json_format.ParseError as err:
            raise _invalid(err) from None
        return message

    def task(self, task: pb.Task) -> Any:
        return _dump(conversions.to_compat_task(task)) if self.legacy else _proto(task)

    def send_result(self, task: pb.Task) -> Any:
        if self.legacy:
            return self.task(task)
        return _proto(pb.SendMessageResponse(task=task))

    def stream_event(self, event: pb.StreamResponse) -> Any:
        if not self.legacy:
            return _proto(event)
        result = conversions.to_compat_stream_response(event).result
        if isinstance(result, v03.TaskStatusUpdateEvent):
            # input-required ends a 0.3 stream too.
            result.final = result.final or result.status.state == v03.TaskState.input_required
        return _dump(result)

    def stream_encoder(self, request_id: str | int | None) -> Callable[[pb.StreamResponse], bytes]:
        def encode(event: pb.StreamResponse) -> bytes:
            return b"data: " + rpc_result(request_id, self.stream_event(event)) + b"\n\n"

        return encode


def _proto(message: Proto) -> Any:
    return json_format.MessageToDict(message)
