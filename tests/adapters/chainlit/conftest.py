"""Chainlit, imported once for these tests, with its app directory in a temporary place.

Chainlit creates ``.chainlit/``, ``.files/`` and its config in its app root
(the working directory by default) when it is imported; its dependencies emit
deprecation warnings at import time, which are not ours to fix.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings

_root = tempfile.mkdtemp(prefix="troupe-chainlit-tests-")
atexit.register(shutil.rmtree, _root, ignore_errors=True)
_saved = os.environ.get("CHAINLIT_APP_ROOT")
os.environ["CHAINLIT_APP_ROOT"] = _root
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import chainlit  # noqa: F401
finally:
    if _saved is None:
        del os.environ["CHAINLIT_APP_ROOT"]
    else:
        os.environ["CHAINLIT_APP_ROOT"] = _saved
