"""Shared fixtures: the anyio backend, and no real model API calls anywhere."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator

import pytest

from tests.asgi import app_host, served
from troupe.models import block_model_requests

__all__ = ["app_host", "served"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every async test hosts the lifespans of the apps it reaches in process (the run
    manager of each serves while the test runs): see ``tests.asgi.ServedTransport``."""
    for item in items:
        function = getattr(item, "function", None)
        if (
            inspect.iscoroutinefunction(function)
            and isinstance(item, pytest.Function)
            and "app_host" not in item.fixturenames
        ):
            item.fixturenames.append("app_host")  # set up last: torn down first


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True, scope="session")
def _block_real_model_requests() -> Iterator[None]:
    """Any provider call to a non-loopback endpoint fails, in this process and its children."""
    block_model_requests(True)
    os.environ["TROUPE_BLOCK_REMOTE_MODELS"] = "1"
    # Apps built from config files would keep conversations in ./.troupe/troupe.db;
    # tests that test the stores say which database they use.
    os.environ.setdefault("TROUPE_DATABASE_URL", "memory")
    yield
    block_model_requests(False)
