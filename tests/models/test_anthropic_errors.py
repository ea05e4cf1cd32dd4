"""``AnthropicModel`` failing well: errors, retries, timeouts, cut streams, cancellation."""

from __future__ import annotations

import contextlib

import anyio
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropicServer, Reply
from tests.models.conftest import FAST_RETRIES, MakeAnthropic
from tests.models.helpers import ask, collect, consume, final
from troupe.errors import UpstreamError, UpstreamRateLimitError, UpstreamTimeoutError
from troupe.models import ModelStreamItem, TextChunk, _guard
from troupe.models.anthropic import AnthropicModel

pytestmark = pytest.mark.anyio


# --- errors ---


async def test_maps_401_to_an_error_saying_who_failed_and_what_anthropic_said(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(
        Reply(
            status=401,
            error_type="authentication_error",
            error="invalid x-api-key: sk-ant-test-key",
        )
    )

    with pytest.raises(UpstreamError) as err:
        await collect(make_anthropic("claude-opus-4-1", max_retries=2), ask())

    message = str(err.value)
    assert type(err.value) is UpstreamError
    for part in ("anthropic", "'claude-opus-4-1'", anthropic_fake.base_url, "HTTP 401",
                 "invalid x-api-key", "authentication_error", "check the API key"):  # fmt: skip
        assert part in message
    assert "sk-ant-test-key" not in message  # the key is masked
    assert (err.value.provider, err.value.model) == ("anthropic", "claude-opus-4-1")
    assert anthropic_fake.stats.requests == 1  # a bad key is not retried


@pytest.mark.parametrize(
    ("status", "kind", "said"),
    [(500, "api_error", "Internal server error"), (529, "overloaded_error", "Overloaded")],
)
async def test_retries_server_errors_and_overload(
    make_anthropic: MakeAnthropic,
    anthropic_fake: FakeAnthropicServer,
    status: int,
    kind: str,
    said: str,
) -> None:
    anthropic_fake.script(Reply(status=status, error_type=kind, error=said), Reply(text="made it"))

    response = final(await collect(make_anthropic(retry=FAST_RETRIES), ask()))

    assert response.content == "made it"
    assert anthropic_fake.stats.requests == 2


async def test_gives_up_after_the_retries_and_says_so(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(
        *[Reply(status=529, error_type="overloaded_error", error="Overloaded")] * 3
    )

    with pytest.raises(UpstreamError, match=r"HTTP 529: Overloaded \(overloaded_error\) "
                       r"\(gave up after 3 attempts\)"):  # fmt: skip
        await collect(make_anthropic(retry=FAST_RETRIES), ask())
    assert anthropic_fake.stats.requests == 3


async def test_a_rate_limit_waits_what_retry_after_says(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(
        Reply(status=429, error_type="rate_limit_error", error="slow down", retry_after="0.3"),
        Reply(text="ok"),
    )

    assert final(await collect(make_anthropic(retry=FAST_RETRIES), ask())).content == "ok"

    first, second = anthropic_fake.request_times
    assert second - first >= 0.3  # not the 10 ms backoff of FAST_RETRIES


async def test_a_rate_limit_that_outlasts_the_retries_is_a_429(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(
        Reply(status=429, error_type="rate_limit_error", error="slow down", retry_after="120")
    )

    with pytest.raises(UpstreamRateLimitError, match=r"slow down .*\(retry after 120s\)"):
        await collect(make_anthropic(retry=FAST_RETRIES), ask())
    assert anthropic_fake.stats.requests == 1  # two minutes is longer than worth waiting


async def test_x_should_retry_false_is_obeyed(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(status=500, should_retry="false"), Reply(text="unused"))

    with pytest.raises(UpstreamError, match="HTTP 500"):
        await collect(make_anthropic(retry=FAST_RETRIES), ask())
    assert anthropic_fake.stats.requests == 1


async def test_a_slow_first_byte_times_out_and_is_retried(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(first_byte_delay=1.0), Reply(text="fast now"))
    model = make_anthropic(timeout=0.3, retry=FAST_RETRIES)

    assert final(await collect(model, ask())).content == "fast now"
    assert anthropic_fake.stats.requests == 2


async def test_no_answer_within_the_timeout_is_a_504(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(hang=True))

    with pytest.raises(UpstreamTimeoutError, match=r"no response within 0\.3s"):
        await collect(make_anthropic(timeout=0.3), ask())


async def test_a_stream_that_stalls_after_text_is_not_replayed(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(text="a b c d e", hang_after=5))
    seen: list[ModelStreamItem] = []

    with pytest.raises(UpstreamTimeoutError, match=r"stalled: no data for 0\.3s after 5 events"):
        await consume(make_anthropic(timeout=0.3, retry=FAST_RETRIES).stream(ask()), seen)

    # What went out before the failure (joined where it arrived in one read).
    assert "".join(i.text for i in seen if isinstance(i, TextChunk)) == "a b "
    assert anthropic_fake.stats.requests == 1


async def test_an_error_event_mid_answer_ends_the_stream(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(text="a b c d", error_after=5, error="Overloaded"))
    seen: list[ModelStreamItem] = []

    with pytest.raises(UpstreamError, match=r"failed mid-stream: Overloaded \(overloaded_error\)"):
        await consume(make_anthropic(retry=FAST_RETRIES).stream(ask()), seen)

    # What went out before the failure (joined where it arrived in one read).
    assert "".join(i.text for i in seen if isinstance(i, TextChunk)) == "a b "
    assert anthropic_fake.stats.requests == 1


async def test_an_error_event_before_any_content_is_retried(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(text="x", error_after=1), Reply(text="second try"))

    response = final(await collect(make_anthropic(retry=FAST_RETRIES), ask()))

    assert response.content == "second try"
    assert anthropic_fake.stats.requests == 2


async def test_a_dropped_connection_mid_stream(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(text="a b c d", disconnect_after=5))

    with pytest.raises(UpstreamError, match="the stream broke off after 5 events") as err:
        await collect(make_anthropic(), ask())
    assert type(err.value) is UpstreamError


async def test_says_so_when_the_key_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", _guard.ENV_VAR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_guard, "_blocked", False)
    model = AnthropicModel("claude-sonnet-4-5")
    assert model.needs_api_key

    with pytest.raises(UpstreamError, match="no API key: pass api_key or set ANTHROPIC_API_KEY"):
        await collect(model, ask())


# --- cancellation ---


async def test_cancelling_the_consumer_closes_the_upstream_stream(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(text="a b c d e", hang_after=5))

    with anyio.CancelScope() as scope:
        async for item in make_anthropic().stream(ask()):
            if isinstance(item, TextChunk):
                scope.cancel()

    assert scope.cancelled_caught
    await anthropic_fake.wait_until(lambda: anthropic_fake.stats.streams_cancelled == 1)
    assert anthropic_fake.stats.streams_completed == 0


async def test_a_consumer_that_stops_early_closes_the_upstream_stream(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(Reply(text="a b c d e", delay=0.05))
    model = make_anthropic()

    async with contextlib.aclosing(model.stream(ask())) as items:
        async for _ in items:
            break

    await anthropic_fake.wait_until(lambda: anthropic_fake.stats.streams_cancelled == 1)
    assert final(await collect(model, ask("again"))).content == "again"


async def test_a_bad_request_is_not_retried(
    make_anthropic: MakeAnthropic, anthropic_fake: FakeAnthropicServer
) -> None:
    anthropic_fake.script(
        Reply(status=400, error_type="invalid_request_error", error="prompt is too long")
    )

    with pytest.raises(
        UpstreamError, match=r"HTTP 400: prompt is too long \(invalid_request_error\)$"
    ):
        await collect(make_anthropic(retry=FAST_RETRIES), ask())
    assert anthropic_fake.stats.requests == 1
