"""``/v1/conversations`` and the conversation rules over HTTP, on real databases."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio
import httpx2
import pytest
from litestar import Litestar

from tests.asgi import ServedTransport
from tests.store.conftest import BACKENDS, SQL_BACKENDS
from troupe.agents import AssistantAgent
from troupe.config import ConfigSpec, ServerSpec
from troupe.models import FunctionModel, ModelRequest, ScriptedModel, tool_call
from troupe.server import create_app
from troupe.store import ConversationStore, SQLConversationStore
from troupe.teams import RoundRobinTeam, SwarmTeam, Team
from troupe.tools import function_tool

pytestmark = pytest.mark.anyio


@function_tool
def lookup(invoice: int) -> str:
    """Find an invoice."""
    return f"invoice {invoice}: charged twice"


def support() -> SwarmTeam:
    triage = AssistantAgent(
        "triage", ScriptedModel([tool_call("transfer_to_billing")]), handoffs=["billing", "user"]
    )
    billing = AssistantAgent(
        "billing",
        ScriptedModel(
            [tool_call("lookup", '{"invoice": 42}'), tool_call("transfer_to_user"), "Refunded."]
        ),
        tools=[lookup],
        max_tool_iterations=2,
        handoffs=["triage", "user"],
    )
    return SwarmTeam("support", [triage, billing])


def echo() -> RoundRobinTeam:
    def say(request: ModelRequest) -> str:
        return f"echo {len(request.messages)}"

    return RoundRobinTeam("echo", [AssistantAgent("bot", FunctionModel(say))])


class Api:
    """Two users, Alice (the default) and Bob, with keys of their own for each test (the
    PostgreSQL database is shared by the tests of a run)."""

    def __init__(self, app: Litestar, keys: Sequence[str]) -> None:
        self.alice, self.bob = keys
        self.http = httpx2.AsyncClient(
            transport=ServedTransport(app), base_url="http://troupe.test"
        )

    async def chat(
        self,
        team: str,
        messages: Sequence[dict[str, str]] | str,
        *,
        key: str | None = None,
        conversation: str | None = None,
    ) -> httpx2.Response:
        key = key or self.alice
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        headers = {"authorization": f"Bearer {key}"}
        if conversation is not None:
            headers["x-conversation-id"] = conversation
        return await self.http.post(
            "/v1/chat/completions",
            json={"model": team, "messages": list(messages)},
            headers=headers,
        )

    def _auth(self, key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {key or self.alice}"}

    async def get(self, path: str, key: str | None = None) -> httpx2.Response:
        return await self.http.get(f"/v1{path}", headers=self._auth(key))

    async def delete(self, path: str, key: str | None = None) -> httpx2.Response:
        return await self.http.delete(f"/v1{path}", headers=self._auth(key))

    async def stop(self, conversation: str, key: str | None = None) -> httpx2.Response:
        return await self.http.post(
            f"/v1/conversations/{conversation}/stop", headers=self._auth(key)
        )


AppFactory = Callable[..., Api]


@pytest.fixture
async def make_api(store: ConversationStore) -> AsyncIterator[AppFactory]:
    clients: list[Api] = []
    keys = [f"sk-alice-{uuid.uuid4().hex[:8]}", f"sk-bob-{uuid.uuid4().hex[:8]}"]

    def make(*teams: Team, store_: ConversationStore | None = None, **server: Any) -> Api:
        spec = ConfigSpec(server=ServerSpec(api_keys=keys, **server))
        api = Api(create_app(spec, teams=teams, store=store_ or store), keys)
        clients.append(api)
        return api

    yield make
    for api in clients:
        await api.http.aclose()


every_store = pytest.mark.parametrize("store", BACKENDS, indirect=True)
sql_store = pytest.mark.parametrize("store", SQL_BACKENDS, indirect=True)


def error(response: httpx2.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


@every_store
async def test_reading_a_conversation_shows_the_teams_inner_work(make_api: AppFactory) -> None:
    api = make_api(support())
    answer = await api.chat("support", "I was charged twice")
    assert answer.status_code == 200
    cid = answer.headers["x-conversation-id"]
    response = await api.get(f"/conversations/{cid}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == cid and body["object"] == "conversation" and body["team"] == "support"
    assert body["title"] == "I was charged twice" and body["waiting_for"] == "billing"
    assert body["current_speaker"] == "billing"
    assert body["pending_input"] == {
        "agent": "billing",
        "prompt": "Transferred to user, adopting the role of user immediately.",
        "kind": "handoff",
        "calls": [],  # the client tool calls it waits for (kind client_tools)
        "inner": False,  # asked by the team's own agent, not inside a nested team
    }
    transcript = body["transcript"]
    assert [(m["role"], m["source"]) for m in transcript] == [
        ("user", "user"),
        ("assistant", "triage"),  # calls transfer_to_billing
        ("tool", "triage"),
        ("assistant", "triage"),  # the transfer message
        ("assistant", "billing"),  # calls lookup
        ("tool", "billing"),
        ("assistant", "billing"),  # calls transfer_to_user
        ("tool", "billing"),
        ("assistant", "billing"),  # the transfer message: the question to the user
    ]
    handoff_call = transcript[1]["tool_calls"][0]
    assert handoff_call["name"] == "transfer_to_billing" and handoff_call["handoff"] == "billing"
    assert transcript[2]["handoff"] == "billing"
    assert (
        transcript[6]["tool_calls"][0]["handoff"] == "user" and transcript[7]["handoff"] == "user"
    )
    lookup_call = transcript[4]["tool_calls"][0]
    assert lookup_call == {
        "id": lookup_call["id"],
        "name": "lookup",
        "arguments": '{"invoice": 42}',
    }
    assert (
        transcript[5]["content"] == "invoice 42: charged twice" and "handoff" not in transcript[5]
    )
    assert body["usage"]["total_tokens"] > 0 and body["runs"] == 1
    # The answer goes back to billing, who asked.
    await api.chat("support", "Invoice 42", conversation=cid)
    after = (await api.get(f"/conversations/{cid}")).json()
    assert after["pending_input"] is None and after["waiting_for"] is None
    last = after["transcript"][-1]
    assert {k: last[k] for k in ("role", "content", "source", "tool_calls")} == {
        "role": "assistant",
        "content": "Refunded.",
        "source": "billing",
        "tool_calls": [],
    }


@every_store
async def test_another_keys_conversation_is_not_found(make_api: AppFactory) -> None:
    api = make_api(echo())
    cid = (await api.chat("echo", "secret plans", key=api.alice)).headers["x-conversation-id"]
    for response in (
        await api.get(f"/conversations/{cid}", key=api.bob),
        await api.delete(f"/conversations/{cid}", key=api.bob),
        await api.get("/conversations/never-was", key=api.alice),
    ):
        assert response.status_code == 404
        assert error(response)["code"] == "conversation_not_found"
        assert error(response)["type"] == "invalid_request_error"
    assert (await api.get("/conversations", key=api.bob)).json()["data"] == []
    # Bob naming Alice's id gets a conversation of his own: he sees nothing of hers.
    bobs = await api.chat("echo", "hello", key=api.bob, conversation=cid)
    assert bobs.status_code == 200 and bobs.headers["x-conversation-id"] == cid
    bob_view = (await api.get(f"/conversations/{cid}", key=api.bob)).json()
    assert [m["content"] for m in bob_view["transcript"]] == ["hello", "echo 2"]
    alice_view = (await api.get(f"/conversations/{cid}", key=api.alice)).json()
    assert alice_view["transcript"][0]["content"] == "secret plans"
    stop = await api.stop(cid, key=api.bob)
    assert stop.status_code == 409  # nothing of Bob's is running


@every_store
async def test_malformed_ids_and_paging_parameters_are_400s(make_api: AppFactory) -> None:
    api = make_api(echo())
    bad = "bad id!"
    for response, param in (
        (await api.get("/conversations/bad%20id!"), "conversation_id"),
        (await api.delete("/conversations/" + "x" * 129), "conversation_id"),
        (await api.get("/conversations/-starts-with-dash"), "conversation_id"),
        (await api.chat("echo", "hi", conversation=bad), "X-Conversation-Id"),
        (await api.get("/conversations?limit=0"), "limit"),
        (await api.get("/conversations?limit=abc"), "limit"),
        (await api.get("/conversations?limit=101"), "limit"),
        (await api.get("/conversations?after=bad%20id"), "after"),
        (await api.get("/conversations?after=unknown-id"), "after"),
        (await api.stop("bad%20id"), "conversation_id"),
    ):
        assert response.status_code == 400, response.text
        assert error(response)["param"] == param


@every_store
async def test_listing_pages_through_the_callers_conversations(make_api: AppFactory) -> None:
    api = make_api(echo())
    created = []
    for i in range(5):
        response = await api.chat("echo", f"question {i}", key=api.bob)
        created.append(response.headers["x-conversation-id"])
    seen: list[str] = []
    after = ""
    while True:
        page = (await api.get(f"/conversations?limit=2{after}", key=api.bob)).json()
        assert page["object"] == "list"
        seen += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        after = f"&after={page['last_id']}"
    assert seen == created[::-1]
    first = (await api.get("/conversations?limit=1", key=api.bob)).json()["data"][0]
    assert first["title"] == "question 4" and first["items"] == 2 and first["team"] == "echo"
    assert isinstance(first["created_at"], int)


@every_store
async def test_delete(make_api: AppFactory) -> None:
    api = make_api(echo())
    cid = (await api.chat("echo", "hi")).headers["x-conversation-id"]
    deleted = await api.delete(f"/conversations/{cid}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": cid, "object": "conversation.deleted", "deleted": True}
    assert (await api.get(f"/conversations/{cid}")).status_code == 404
    assert (await api.delete(f"/conversations/{cid}")).status_code == 404
    # The id is free: the next request with it starts afresh.
    again = await api.chat("echo", "new start", conversation=cid)
    assert again.status_code == 200
    view = (await api.get(f"/conversations/{cid}")).json()
    assert [m["content"] for m in view["transcript"]] == ["new start", "echo 2"]


class Gate:
    """A model that answers only when the test lets it: a run held in progress."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.open = anyio.Event()
        self.calls = 0

    async def __call__(self, request: ModelRequest) -> str:
        self.calls += 1
        self.entered.set()
        await self.open.wait()
        return f"answer {self.calls}"

    def team(self) -> RoundRobinTeam:
        return RoundRobinTeam("held", [AssistantAgent("bot", FunctionModel(self))])


@every_store
async def test_a_busy_conversation_rejects_a_second_request(make_api: AppFactory) -> None:
    gate = Gate()
    api = make_api(gate.team())
    results: dict[str, httpx2.Response] = {}

    async def first() -> None:
        results["first"] = await api.chat("held", "one", conversation="c-busy")

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await gate.entered.wait()
        second = await api.chat("held", "two", conversation="c-busy")
        assert second.status_code == 409 and error(second)["code"] == "conversation_busy"
        deleting = await api.delete("/conversations/c-busy")
        assert deleting.status_code == 409 and "in progress" in error(deleting)["message"]
        gate.open.set()
    assert results["first"].status_code == 200
    retry = await api.chat("held", "two", conversation="c-busy")
    assert retry.json()["choices"][0]["message"]["content"] == "answer 2"


@every_store
async def test_enqueue_waits_for_the_run_in_progress(make_api: AppFactory) -> None:
    gate = Gate()
    api = make_api(gate.team(), busy_policy="enqueue", busy_wait_seconds=30)
    results: dict[str, httpx2.Response] = {}

    async def ask(name: str) -> None:
        results[name] = await api.chat("held", name, conversation="c-queue")

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask, "one")
        await gate.entered.wait()
        tg.start_soon(ask, "two")
        await anyio.wait_all_tasks_blocked()
        assert "two" not in results  # it waits, it is not turned away
        gate.open.set()
    assert [results[n].status_code for n in ("one", "two")] == [200, 200]
    view = (await api.get("/conversations/c-queue")).json()
    assert [m["content"] for m in view["transcript"]] == ["one", "answer 1", "two", "answer 2"]


@every_store
async def test_enqueue_gives_up_after_busy_wait_seconds(make_api: AppFactory) -> None:
    gate = Gate()
    api = make_api(gate.team(), busy_policy="enqueue", busy_wait_seconds=0.2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(api.chat, "held", "one", conversation="c-slow"))
        await gate.entered.wait()
        late = await api.chat("held", "two", conversation="c-slow")
        assert late.status_code == 409
        assert "server.busy_wait_seconds" in error(late)["message"]
        gate.open.set()


@every_store
async def test_a_conversation_over_the_size_bound_gets_a_clear_413(make_api: AppFactory) -> None:
    api = make_api(echo(), max_transcript_bytes=1000)
    first = await api.chat("echo", "x" * 200)
    cid = first.headers["x-conversation-id"]
    assert (await api.chat("echo", "y" * 200, conversation=cid)).status_code == 200
    refused = await api.chat("echo", "z" * 200, conversation=cid)
    assert refused.status_code == 413
    body = error(refused)
    assert body["code"] == "conversation_too_large" and body["param"] == "messages"
    assert "1000 bytes (server.max_transcript_bytes)" in body["message"]
    # Nothing was lost, and the conversation is free again.
    view = (await api.get(f"/conversations/{cid}")).json()
    assert len(view["transcript"]) == 4
    assert (await api.chat("echo", "fresh")).status_code == 200


@sql_store
async def test_a_stop_asked_on_one_replica_stops_the_run_on_another(
    store: SQLConversationStore,
    make_api: AppFactory,
    open_stores: Callable[..., SQLConversationStore],
) -> None:
    started = anyio.Event()
    cancelled = anyio.Event()

    async def busy(request: ModelRequest) -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        return "never"

    def team() -> RoundRobinTeam:
        # No ``external`` condition: a stop stops any run, mid-turn.
        return RoundRobinTeam("worker", [AssistantAgent("a", FunctionModel(busy))])

    here = make_api(team())
    there = make_api(team(), store_=open_stores(store.url))
    results: dict[str, httpx2.Response] = {}

    async def run() -> None:
        results["run"] = await here.chat("worker", "go", conversation="c-stop")

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await started.wait()
        stop = await there.stop("c-stop")
        assert stop.status_code == 200 and stop.json()["stopping"] is True
        assert stop.json()["status"] == "cancelled"
    assert cancelled.is_set()  # the model call in flight was cancelled
    events = results["run"].json()["choices"][0]["message"]["troupe"]
    assert events[-1]["type"] == "run_end" and events[-1]["stop_reason"] == "cancelled"
    assert (await there.stop("c-stop")).status_code == 409  # the run is over


@sql_store
async def test_a_plain_client_continues_on_another_replica(
    store: SQLConversationStore,
    make_api: AppFactory,
    open_stores: Callable[..., SQLConversationStore],
) -> None:
    here = make_api(echo())
    there = make_api(echo(), store_=open_stores(store.url))
    question = f"hello {uuid.uuid4().hex}"
    first = await here.chat("echo", question)
    answer = first.json()["choices"][0]["message"]["content"]
    history = [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "and then?"},
    ]
    second = await there.chat("echo", history)
    assert second.headers["x-conversation-id"] == first.headers["x-conversation-id"]
    assert second.json()["choices"][0]["message"]["content"] == "echo 4"
    # The user edits their last question: the client resends the older history, which is
    # no longer where the conversation stands. That starts a new branch...
    edited = await there.chat("echo", [*history[:2], {"role": "user", "content": "or?"}])
    assert edited.headers["x-conversation-id"] != first.headers["x-conversation-id"]
    # ...and the stored conversation is left as it was.
    kept = (await here.get(f"/conversations/{first.headers['x-conversation-id']}")).json()
    assert [m["content"] for m in kept["transcript"]][-2:] == ["and then?", "echo 4"]


@every_store
async def test_a_nul_character_is_kept_and_the_server_goes_on(make_api: AppFactory) -> None:
    """PostgreSQL's text columns refuse NUL: a message holding one is stored all the same
    (a conversation's title drops it), and odd run ids are 404s, never 500s."""
    api = make_api(echo())
    answer = await api.chat("echo", "a\u0000b")
    assert answer.status_code == 200, answer.text
    cid = answer.headers["x-conversation-id"]
    stored = (await api.get(f"/conversations/{cid}")).json()
    assert stored["transcript"][0]["content"] == "a\u0000b"
    assert (await api.get("/conversations")).json()["data"][0]["title"] == "a b"
    [run] = (await api.get(f"/conversations/{cid}/runs")).json()["data"]
    assert run["status"] == "completed"
    for path in ("/runs/%00", "/runs/run_%00x", "/runs/%00/stream"):
        response = await api.get(path)
        assert response.status_code == 404 and error(response)["code"] == "run_not_found"
    assert (await api.chat("echo", "still here")).status_code == 200
