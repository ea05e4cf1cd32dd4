"""A tool for the adapters' test servers: it answers only when cancelled.

Named ``current_time`` because that is the tool the offline demo model calls
when a question mentions the time. When the run is cancelled (the user pressed
stop), it writes ``cancelled`` to the file named by
``TROUPE_TEST_CANCELLED_FILE``, so the test can see the server stopped the run.
"""

from __future__ import annotations

import os

import anyio


async def current_time() -> str:
    """The current time (takes a while)."""
    try:
        await anyio.sleep_forever()
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True):
            await anyio.Path(os.environ["TROUPE_TEST_CANCELLED_FILE"]).write_text("cancelled")
        raise
    return "never"
