"""Security: the temporary database is private to the user (directory 0700, files 0600, even
under a permissive umask) and never reused across instances.

Trust model (for the docs): the args and kwargs of a task are pickled into this private
database and unpickled by the same process for each run. Nobody else can write there (the
directory is 0700 and the file 0600, created exclusively), so unpickling never reads data
from outside the process; pickling is a copy mechanism, not a trust boundary. Do not point
quiv at a database another user can write.
"""

from __future__ import annotations

import os
import stat
import sys

import pytest

from quiv.testing import settle

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_the_database_is_private(quiv, umask) -> None:
    old = os.umask(umask)
    try:
        q = quiv()
        q.add_task("t", lambda: None, interval=60, args=("secret",))
        q.start()
        settle(q)
        q.get_all_jobs()  # the WAL and shared-memory files exist once written
    finally:
        os.umask(old)
    directory = os.path.dirname(q._store.path)
    assert _mode(directory) == 0o700
    assert os.stat(directory).st_uid == os.getuid()
    files = os.listdir(directory)
    assert "quiv.sqlite3" in files
    for name in files:
        path = os.path.join(directory, name)
        assert _mode(path) & 0o077 == 0, (name, oct(_mode(path)))
        assert os.stat(path).st_uid == os.getuid()
    assert _mode(q._store.path) == 0o600


def test_no_directory_is_reused_across_instances(quiv) -> None:
    seen = set()
    for _ in range(20):
        q = quiv()
        directory = os.path.dirname(q._store.path)
        assert directory not in seen
        seen.add(directory)
        q.shutdown()
        assert not os.path.exists(directory)
    # Two alive at once do not share either.
    a, b = quiv(), quiv()
    assert os.path.dirname(a._store.path) != os.path.dirname(b._store.path)
