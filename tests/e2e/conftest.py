"""Shared set-up of the example app's tests.

The example lives in ``examples/fastapi_app`` at the repository root, which is not an
installed package: the root is put on ``sys.path`` so that ``examples.fastapi_app`` imports
in-process, and the server subprocess runs with the root as its working directory.

FastAPI, uvicorn, httpx and websockets come from the ``example`` dependency group; each test
module skips itself (``pytest.importorskip``) where they are not installed, as in a session
that installs only the ``test`` group.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
