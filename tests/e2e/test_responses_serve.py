"""The openai Python SDK's Responses API against a real `troupe serve` and the fake upstream."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.e2e.conftest import Server, Upstream
from tests.spec import validate

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(server: Server, upstream: Upstream) -> Iterator[openai.OpenAI]:
    upstream.reset()
    with openai.OpenAI(base_url=server.base_url, api_key="sk-e2e", max_retries=0) as client:
        yield client


def test_stream_background_resume_and_chain(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="duo", input="green tea", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for event in events:
        if not event.type.startswith("troupe:"):
            validate(event.model_dump(exclude_unset=True), "ResponseStreamEvent")
    final = events[-1]
    assert final.type == "response.completed"
    agents = [item.model_dump()["troupe"]["agent"] for item in final.response.output]  # type: ignore[union-attr]
    assert agents[:2] == ["writer", "critic"]

    started = client.responses.create(model="solo", input="oolong", background=True)
    tail = list(client.responses.retrieve(started.id, stream=True, starting_after=2))
    assert tail[0].sequence_number == 3
    assert tail[-1].type == "response.completed"
    done = client.responses.retrieve(started.id)
    validate(done.model_dump(exclude_unset=True), "Response")
    assert "oolong" in done.output_text

    chained = client.responses.create(
        model="solo", input="and sencha", previous_response_id=started.id
    )
    assert chained.previous_response_id == started.id
    assert "sencha" in chained.output_text
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="solo", input="x", previous_response_id="resp_nope")
    assert bad.value.body["param"] == "previous_response_id"  # type: ignore[index]
