"""While the app serves on asyncio, anyio learns which loop runs from sniffio's answer for
the loop's thread (no task lookup per event, cancel scope and timeout); the answer goes
with the app (the thread may run another loop later: the next test, say)."""

from __future__ import annotations

import pytest
import sniffio

from tests.server.conftest import app_for
from troupe.agents import AssistantAgent
from troupe.models import ScriptedModel
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio


async def test_the_loop_is_named_while_serving_on_asyncio_and_forgotten_after(
    anyio_backend_name: str,
) -> None:
    team = RoundRobinTeam("solo", [AssistantAgent("a", ScriptedModel(["hi"]))])
    app = app_for(team)
    assert sniffio.thread_local.name is None
    async with app.lifespan():
        expected = "asyncio" if anyio_backend_name == "asyncio" else None
        assert sniffio.thread_local.name == expected
        assert sniffio.current_async_library() == anyio_backend_name
    assert sniffio.thread_local.name is None
