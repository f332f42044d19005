"""The runner of the docs' code blocks (``conftest.py`` at the root) fails what it must.

It runs on a few pages made here, in a pytest of their own, and each page holds one way a
code block can go wrong: the runner must pass the good page, count what it ran, and fail
each of the others with a message that says what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GOOD = """# Good

```python
import quiv

total = 1 + 1
```

```python
>>> total
2
```

<!-- invisible-code-block: python
assert total == 2
-->

```console
uv run pytest
```

```text
an output sample
```

<!-- skip: next "the shape of a call" -->
```python
scheduler.add_task(name, func, interval)
```
"""

UNMARKED = """# A shell block that says neither that it is not Python nor why it does not run

```bash
rm -rf build
```

```
no language at all
```
"""

BROKEN = """# An example that drifted from the code

```python
from quiv import Quiv

Quiv(pool_size=4).add_taks("x", print, interval=1)
```
"""

NO_REASON = """# A skip that does not say why

<!-- skip: next -->
```python
undefined_name
```
"""

LEFT_RUNNING = """# A scheduler started and never stopped

```python
from quiv import Quiv

scheduler = Quiv()
scheduler.start()
```
"""


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> str:
    site = tmp_path_factory.mktemp("site")
    shutil.copy(ROOT / "conftest.py", site / "conftest.py")
    (site / "pytest.ini").write_text("[pytest]\n")
    (site / "README.md").write_text(GOOD)
    docs = site / "docs"
    docs.mkdir()
    for name, text in [
        ("unmarked", UNMARKED),
        ("broken", BROKEN),
        ("no_reason", NO_REASON),
        ("left_running", LEFT_RUNNING),
    ]:
        (docs / f"{name}.md").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIV_")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-rA",
            "--continue-on-collection-errors",
            "README.md",
            "docs",
        ],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    return run.stdout


def test_a_good_page_passes_and_the_count_says_what_ran(outcome: str) -> None:
    assert "PASSED README.md::line:3,column:1" in outcome
    assert "SKIPPED [1] README.md:27: the shape of a call" in outcome
    assert "FAILED README.md" not in outcome
    # The Python blocks of README.md and of left_running.md ran; three blocks failed, and one
    # page failed at its end.
    assert (
        "doc examples: 2 Python blocks and 1 doctest examples ran (and 1 hidden set-up blocks),"
        " 1 skipped by their mark, 4 failed" in outcome
    )
    assert "not Python by their info string: 1 console, 1 text" in outcome


def test_a_block_that_is_neither_python_nor_marked_fails(outcome: str) -> None:
    assert "FAILED docs/unmarked.md::line:3,column:1" in outcome
    assert "FAILED docs/unmarked.md::line:7,column:1" in outcome
    assert "a code block with info string 'bash' neither runs nor says why not" in outcome
    assert "a code block with info string '(no info string)' neither runs" in outcome


def test_an_example_that_drifted_from_the_code_fails_at_its_line(outcome: str) -> None:
    assert "FAILED docs/broken.md::line:3,column:1" in outcome
    assert "AttributeError: 'Quiv' object has no attribute 'add_taks'" in outcome


def test_a_skip_without_a_reason_is_refused(outcome: str) -> None:
    assert "ERROR docs/no_reason.md" in outcome
    assert "'skip: next' needs a reason" in outcome


def test_an_example_that_leaves_a_scheduler_running_fails(outcome: str) -> None:
    assert "ERROR docs/left_running.md::line:3,column:1" in outcome
    assert "left schedulers running (scheduler)" in outcome
