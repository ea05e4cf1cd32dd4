"""Retries and fallback around any model, and across providers on their real fakes."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator

import anyio
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropicServer
from tests.fakes.anthropic_upstream import Reply as AnthropicReply
from tests.fakes.openai_upstream import FakeOpenAIServer
from tests.fakes.openai_upstream import Reply as OpenAIReply
from tests.models.conftest import FAST_RETRIES, MakeAnthropic, MakeModel
from tests.models.helpers import ask, collect, final
from troupe.errors import UpstreamError, UpstreamTimeoutError
from troupe.models import (
    FallbackModel,
    ModelCapabilities,
    ModelRequest,
    ModelResponse,
    ModelStreamItem,
    RetryingModel,
    RetryPolicy,
    ScriptedModel,
    TextChunk,
)
from troupe.models._upstream import mark_transient

pytestmark = pytest.mark.anyio


class Flaky:
    """Fails as scripted: "transient" or "fatal" before any output, "mid" after some text."""

    provider = "flaky"
    model_name = "flaky-1"
    capabilities = ModelCapabilities(vision=False)

    def __init__(self, *outcomes: str) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "mid":
            yield TextChunk("partial ")
        if outcome in ("transient", "mid", "timeout"):
            cls = UpstreamTimeoutError if outcome == "timeout" else UpstreamError
            raise mark_transient(cls(f"flaky said {outcome}", provider="flaky", model="flaky-1"))
        if outcome == "fatal":
            raise UpstreamError("flaky said no", provider="flaky", model="flaky-1")
        yield TextChunk(outcome)
        yield ModelResponse(content=outcome, model="flaky-1")


def test_backoff_grows_with_jitter_and_stops_at_the_limit() -> None:
    policy = RetryPolicy(max_retries=3, initial_delay=1.0, max_delay=3.0)
    for retry, (low, high) in enumerate([(0.5, 1.0), (1.0, 2.0), (1.5, 3.0)]):
        delays = {policy.delay(retry, None) for _ in range(50)}
        assert all(d is not None and low <= d < high for d in delays)
        assert len(delays) > 1  # jittered
    assert policy.delay(3, None) is None


def test_the_providers_wait_wins_unless_it_is_too_long() -> None:
    policy = RetryPolicy(max_retries=2, max_retry_after=10)
    assert policy.delay(0, 7.5) == 7.5
    assert policy.delay(0, 0.0) == 0.0
    assert policy.delay(0, 11) is None


async def test_retries_a_transient_failure_before_the_first_item() -> None:
    flaky = Flaky("transient", "timeout", "fine")

    response = final(await collect(RetryingModel(flaky, FAST_RETRIES), ask()))

    assert (response.content, flaky.calls) == ("fine", 3)


async def test_gives_up_after_max_retries_with_the_last_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = Flaky("transient", "transient", "timeout")

    gave_up = r"said timeout \(gave up after 3 attempts\)"
    with (
        caplog.at_level(logging.WARNING, logger="troupe.models"),
        pytest.raises(UpstreamTimeoutError, match=gave_up),
    ):
        await collect(RetryingModel(flaky, FAST_RETRIES), ask())

    assert flaky.calls == 3
    assert [r.getMessage().split(";")[1].split(" in ")[0] for r in caplog.records] == [
        " retry 1 of 2",
        " retry 2 of 2",
    ]


@pytest.mark.parametrize(
    ("outcomes", "said", "calls"),
    [
        (("mid", "fine"), r"said mid$", 1),
        # retried before its output: the error says how many attempts it took
        (("transient", "mid", "fine"), r"said mid \(gave up after 2 attempts\)$", 2),
    ],
)
async def test_never_retries_once_output_has_been_yielded(
    outcomes: tuple[str, ...], said: str, calls: int
) -> None:
    flaky = Flaky(*outcomes)
    seen: list[ModelStreamItem] = []

    with pytest.raises(UpstreamError, match=said):
        async for item in RetryingModel(flaky, FAST_RETRIES).stream(ask()):
            seen.append(item)

    assert seen == [TextChunk("partial ")]
    assert flaky.calls == calls


async def test_a_stream_left_mid_way_closes_its_attempt() -> None:
    closed: list[bool] = []

    class Endless:
        provider, model_name = "endless", "endless-1"
        capabilities = ModelCapabilities(vision=False)

        async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
            try:
                while True:
                    yield TextChunk("more ")
            finally:
                closed.append(True)

    stream = RetryingModel(Endless(), FAST_RETRIES).stream(ask())
    assert [await stream.__anext__() for _ in range(3)] == [TextChunk("more ")] * 3
    await stream.aclose()
    assert closed == [True]


async def test_never_retries_a_final_error() -> None:
    flaky = Flaky("fatal", "fine")

    with pytest.raises(UpstreamError, match="said no"):
        await collect(RetryingModel(flaky, FAST_RETRIES), ask())
    assert flaky.calls == 1


async def test_cancellation_during_the_backoff_is_not_swallowed() -> None:
    flaky = Flaky("transient", "fine")
    slow = RetryPolicy(max_retries=1, initial_delay=30, max_delay=30)

    with anyio.move_on_after(0.2) as scope:
        await collect(RetryingModel(flaky, slow), ask())

    assert scope.cancelled_caught
    assert flaky.calls == 1


# --- fallback ---


async def test_the_fallback_answers_when_the_primary_fails_first() -> None:
    primary = Flaky("fatal")
    backup = ScriptedModel(["from the backup"], name="backup-1")
    model = FallbackModel(primary, backup)

    response = final(await collect(model, ask()))

    assert (response.content, response.model) == ("from the backup", "backup-1")
    assert (model.provider, model.model_name) == ("flaky", "flaky-1")
    assert model.capabilities == Flaky.capabilities


async def test_no_fallback_once_the_primary_has_started_answering() -> None:
    backup = ScriptedModel(["unused"])

    with pytest.raises(UpstreamError, match="said mid"):
        await collect(FallbackModel(Flaky("mid"), backup), ask())
    assert backup.remaining == 1


async def test_when_both_fail_the_error_tells_both_stories() -> None:
    model = FallbackModel(Flaky("fatal"), Flaky("fatal", "fatal"))

    with pytest.raises(UpstreamError, match="said no; then the fallback failed too: flaky said no"):
        await collect(model, ask())


async def test_openai_falls_back_to_anthropic_after_its_retries(
    make_model: MakeModel,
    fake: FakeOpenAIServer,
    make_anthropic: MakeAnthropic,
    anthropic_fake: FakeAnthropicServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.script(*[OpenAIReply(status=503, error="unavailable")] * 3)
    anthropic_fake.script(AnthropicReply(text="Claude here"))
    model = FallbackModel(make_model("gpt-4o", retry=FAST_RETRIES), make_anthropic())

    with caplog.at_level(logging.WARNING, logger="troupe.models"):
        response = final(await collect(model, ask()))

    assert (response.content, response.model) == ("Claude here", "claude-sonnet-4-5")
    assert fake.stats.requests == 3
    assert "falling back to anthropic model 'claude-sonnet-4-5'" in caplog.text
    assert "sk-test" not in caplog.text


async def test_a_fallback_is_cancelled_with_its_consumer(
    make_model: MakeModel,
    fake: FakeOpenAIServer,
    make_anthropic: MakeAnthropic,
    anthropic_fake: FakeAnthropicServer,
) -> None:
    fake.script(OpenAIReply(status=400, error="context too long"))
    anthropic_fake.script(AnthropicReply(text="a b c d", hang_after=5))
    model = FallbackModel(make_model(), make_anthropic())

    with anyio.CancelScope() as scope:
        async for item in model.stream(ask()):
            if isinstance(item, TextChunk):
                scope.cancel()

    await anthropic_fake.wait_until(lambda: anthropic_fake.stats.streams_cancelled == 1)
