"""run_subprocess: subprocess.run's results, and a child stopped by a stop event, a timeout
or an exception, never left running nor unreaped; and through a real scheduler, a cancelled
job whose handler runs a long command.

Children that the tests stop write their pid to a file once they are ready (their signal
handlers installed), so the test knows what to stop and can check it is gone.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from quiv import ConfigurationError, Job, JobStatus, Quiv
from quiv._context import job_context
from quiv._subprocess import run_subprocess
from quiv.exceptions import JobCancelledError
from quiv.testing import wait_until

from ._helpers import WAIT

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pids")


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _sleeper(pid_file: Path, *, setup: str = "", seconds: float = 30) -> list[str]:
    """A child that runs ``setup``, then writes its pid to ``pid_file`` (atomically) and
    sleeps ``seconds``."""
    return _py(
        "import os, signal, sys, time\n"
        f"{setup}\n"
        f"tmp = {str(pid_file)!r} + '.tmp'\n"
        "with open(tmp, 'w') as f: f.write(str(os.getpid()))\n"
        f"os.replace(tmp, {str(pid_file)!r})\n"
        f"time.sleep({seconds})\n"
    )


def _read_pids(pid_file: Path) -> list[int]:
    wait_until(pid_file.exists, timeout=WAIT)
    return [int(word) for word in pid_file.read_text().split()]


def _set_when_ready(pid_file: Path, event: threading.Event) -> threading.Thread:
    """Set ``event`` from another thread once the child has written its pid (or after
    WAIT seconds, so that a child that never gets ready cannot hang the test)."""
    set_at: list[float] = []

    def run() -> None:
        deadline = time.monotonic() + WAIT
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        set_at.append(time.monotonic())
        event.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.set_at = set_at  # type: ignore[attr-defined]
    thread.start()
    return thread


def _reaped(pid: int) -> bool:
    """True once ``pid`` names no process at all: a zombie still does."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _dead(pid: int) -> bool:
    """True once ``pid`` is gone or a zombie (a grandchild is reaped by init, not by us)."""
    if _reaped(pid):
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return _reaped(pid)
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


# -- what subprocess.run does --------------------------------------------------------------


def test_output_is_captured_with_the_returncode() -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    result = run_subprocess(_py(code), capture_output=True)
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 3
    assert result.stdout.splitlines() == [b"out"]
    assert result.stderr.splitlines() == [b"err"]
    assert result.args == _py(code)


def test_without_capture_output_nothing_is_captured() -> None:
    result = run_subprocess(_py("pass"), stdout=subprocess.DEVNULL)
    assert (result.returncode, result.stdout, result.stderr) == (0, None, None)


def test_check_raises_called_process_error_with_the_output() -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    with pytest.raises(subprocess.CalledProcessError) as caught:
        run_subprocess(_py(code), capture_output=True, check=True)
    assert caught.value.returncode == 3
    assert caught.value.stdout.splitlines() == [b"out"]
    assert caught.value.stderr.splitlines() == [b"err"]
    assert run_subprocess(_py("pass"), check=True).returncode == 0


def test_input_is_passed_to_stdin() -> None:
    echo = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])"
    assert run_subprocess(_py(echo), input=b"abc", capture_output=True).stdout == b"cba"
    echo_text = "import sys; sys.stdout.write(sys.stdin.read().upper())"
    result = run_subprocess(_py(echo_text), input="abc", capture_output=True, text=True)
    assert result.stdout == "ABC"


def test_empty_input_closes_stdin() -> None:
    count = "import sys; print(len(sys.stdin.read()))"
    assert run_subprocess(_py(count), input=b"", capture_output=True).stdout.strip() == b"0"


@posix_only
def test_a_string_runs_through_the_shell() -> None:
    result = run_subprocess("echo hi", shell=True, capture_output=True)
    assert result.stdout == b"hi\n"


def test_a_missing_program_raises_as_popen_does() -> None:
    with pytest.raises(FileNotFoundError):
        run_subprocess(["quiv-no-such-program-here"], stop_event=threading.Event())


def test_megabytes_of_output_and_input_do_not_deadlock_while_watching() -> None:
    size = 8 * 1024 * 1024
    code = (
        "import sys\n"
        f"for _ in range({size} // 65536):\n"
        "    sys.stdout.buffer.write(b'o' * 65536)\n"
        "    sys.stderr.buffer.write(b'e' * 32768)\n"
    )
    result = run_subprocess(_py(code), capture_output=True, stop_event=threading.Event())
    assert result.returncode == 0
    assert len(result.stdout) == size
    assert len(result.stderr) == size // 2

    echo = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"
    data = os.urandom(size)
    result = run_subprocess(
        _py(echo), input=data, capture_output=True, stop_event=threading.Event(), timeout=WAIT
    )
    assert result.stdout == data


# -- stopping ------------------------------------------------------------------------------


@posix_only
def test_a_stop_event_set_from_another_thread_stops_and_reaps_the_child(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "pid"
    stop = threading.Event()
    setter = _set_when_ready(pid_file, stop)
    with pytest.raises(JobCancelledError) as caught:
        run_subprocess(_sleeper(pid_file), stop_event=stop, kill_grace=5.0)
    setter.join(WAIT)
    (pid,) = _read_pids(pid_file)
    assert _reaped(pid)
    assert caught.value.job_id is None  # not a job's event
    assert caught.value.what.startswith("run_subprocess([")


@posix_only
def test_sigterm_comes_first_and_the_child_may_exit_within_the_grace(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    cleaned = tmp_path / "cleaned"
    setup = (
        "def on_term(signum, frame):\n"
        f"    open({str(cleaned)!r}, 'w').close()\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, on_term)"
    )
    stop = threading.Event()
    _set_when_ready(pid_file, stop)
    with pytest.raises(JobCancelledError):
        run_subprocess(_sleeper(pid_file, setup=setup), stop_event=stop, kill_grace=WAIT)
    (pid,) = _read_pids(pid_file)
    assert _reaped(pid)
    assert cleaned.exists()  # it ran its SIGTERM handler: it was not killed outright


@posix_only
def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    setup = "signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    grace = 0.5
    stop = threading.Event()
    setter = _set_when_ready(pid_file, stop)
    with pytest.raises(JobCancelledError):
        run_subprocess(
            _sleeper(pid_file, setup=setup), stop_event=stop, kill_grace=grace, timeout=WAIT
        )
    ended = time.monotonic()
    setter.join(WAIT)
    (pid,) = _read_pids(pid_file)
    assert _reaped(pid)
    waited = ended - setter.set_at[0]  # type: ignore[attr-defined]
    assert grace <= waited < grace + 5.0  # it was given the grace, then killed


@posix_only
def test_kill_grace_zero_kills_at_once(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    stop = threading.Event()
    _set_when_ready(pid_file, stop)
    with pytest.raises(JobCancelledError):
        run_subprocess(
            _sleeper(pid_file, setup="signal.signal(signal.SIGTERM, signal.SIG_IGN)"),
            stop_event=stop,
            kill_grace=0,
        )
    (pid,) = _read_pids(pid_file)
    assert _reaped(pid)


def test_an_event_already_set_starts_no_child(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    stop = threading.Event()
    stop.set()
    with pytest.raises(JobCancelledError):
        run_subprocess(_py(f"open({str(marker)!r}, 'w').close()"), stop_event=stop)
    assert not marker.exists()


def test_a_child_that_ends_before_the_stop_returns_its_result() -> None:
    stop = threading.Event()
    assert run_subprocess(_py("pass"), stop_event=stop).returncode == 0
    assert not stop.is_set()


@posix_only
def test_a_timeout_stops_the_child_and_raises_timeout_expired(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    setup = "print('partial', flush=True)"
    with pytest.raises(subprocess.TimeoutExpired) as caught:
        run_subprocess(
            _sleeper(pid_file, setup=setup),
            timeout=3.0,
            capture_output=True,
            stop_event=threading.Event(),
        )
    (pid,) = _read_pids(pid_file)
    assert _reaped(pid)
    assert caught.value.timeout == 3.0
    assert caught.value.cmd == _sleeper(pid_file, setup=setup)
    assert caught.value.stdout == b"partial\n"  # what it wrote before it was stopped
    assert caught.value.stderr == b""


@posix_only
def test_a_timeout_without_a_stop_event_to_watch(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        run_subprocess(_sleeper(pid_file), timeout=1.0)
    (pid,) = _read_pids(pid_file)
    assert _reaped(pid)


@posix_only
def test_keyboard_interrupt_in_the_waiting_thread_kills_and_reaps_the_child(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "pid"

    class Interrupting:
        """A stop event that raises KeyboardInterrupt, as a ^C would, once the child runs."""

        def is_set(self) -> bool:
            if pid_file.exists():
                raise KeyboardInterrupt
            return False

        def wait(self, timeout: float | None = None) -> bool:
            return False

    with pytest.raises(KeyboardInterrupt):
        run_subprocess(_sleeper(pid_file), stop_event=Interrupting(), timeout=WAIT)  # type: ignore[arg-type]
    (pid,) = _read_pids(pid_file)
    assert _reaped(pid)


@posix_only
def test_a_new_session_stops_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    grandchild = _py("import time; time.sleep(30)")
    setup = (
        "import subprocess\n"
        f"child = subprocess.Popen({grandchild!r})\n"
        # The grandchild's pid goes first: the file appears complete, with both pids.
        f"open({str(pid_file)!r} + '.g', 'w').write(str(child.pid) + ' ')\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    )
    code = _sleeper(pid_file, setup=setup)
    stop = threading.Event()
    _set_when_ready(pid_file, stop)
    with pytest.raises(JobCancelledError):
        run_subprocess(code, stop_event=stop, kill_grace=0.5, start_new_session=True)
    (pid,) = _read_pids(pid_file)
    (grandchild_pid,) = _read_pids(Path(str(pid_file) + ".g"))
    assert _reaped(pid)
    wait_until(lambda: _dead(grandchild_pid), timeout=WAIT)


@posix_only
def test_without_a_new_session_only_the_direct_child_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    grandchild = _py("import time; time.sleep(30)")
    setup = (
        "import subprocess\n"
        f"child = subprocess.Popen({grandchild!r})\n"
        f"open({str(pid_file)!r} + '.g', 'w').write(str(child.pid) + ' ')"
    )
    stop = threading.Event()
    _set_when_ready(pid_file, stop)
    with pytest.raises(JobCancelledError):
        run_subprocess(_sleeper(pid_file, setup=setup), stop_event=stop, kill_grace=5.0)
    (pid,) = _read_pids(pid_file)
    (grandchild_pid,) = _read_pids(Path(str(pid_file) + ".g"))
    try:
        assert _reaped(pid)
        assert not _dead(grandchild_pid)  # as documented: it was not signalled
    finally:
        os.kill(grandchild_pid, signal.SIGKILL)


@posix_only
def test_a_grandchild_holding_the_pipes_does_not_hang_the_stop(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    grandchild = _py("import time; time.sleep(30)")
    setup = (
        "import subprocess\n"
        # It inherits the child's stdout and stderr: the pipes stay open after the child.
        f"child = subprocess.Popen({grandchild!r})\n"
        f"open({str(pid_file)!r} + '.g', 'w').write(str(child.pid) + ' ')"
    )
    stop = threading.Event()
    setter = _set_when_ready(pid_file, stop)
    try:
        with pytest.raises(JobCancelledError):
            run_subprocess(
                _sleeper(pid_file, setup=setup),
                stop_event=stop,
                kill_grace=0.5,
                capture_output=True,
            )
        ended = time.monotonic()
        (pid,) = _read_pids(pid_file)
        assert _reaped(pid)
        setter.join(WAIT)
        assert ended - setter.set_at[0] < 0.5 + 5.0  # type: ignore[attr-defined]
    finally:
        # The helper thread still reads the pipes: this closes them, and it ends.
        (grandchild_pid,) = _read_pids(Path(str(pid_file) + ".g"))
        os.kill(grandchild_pid, signal.SIGKILL)


# -- the job's own stop event --------------------------------------------------------------


class _FakeJob:
    def __init__(self, job_id: str) -> None:
        self._id = job_id
        self.event = threading.Event()

    @property
    def id(self) -> str:
        return self._id

    def handler_stop_event(self) -> threading.Event:
        return self.event


@pytest.fixture
def fake_job() -> Iterator[_FakeJob]:
    job = _FakeJob("job-1")
    token = job_context().set(job)
    yield job
    job_context().reset(token)


@posix_only
def test_inside_a_job_its_stop_event_is_watched(fake_job: _FakeJob, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    _set_when_ready(pid_file, fake_job.event)
    with pytest.raises(JobCancelledError) as caught:
        run_subprocess(_sleeper(pid_file))
    (pid,) = _read_pids(pid_file)
    assert _reaped(pid)
    assert caught.value.job_id == "job-1"
    assert "job 'job-1'" in str(caught.value)


def test_inside_a_job_an_event_already_set_starts_no_child(
    fake_job: _FakeJob, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    fake_job.event.set()
    with pytest.raises(JobCancelledError) as caught:
        run_subprocess(_py(f"open({str(marker)!r}, 'w').close()"))
    assert caught.value.job_id == "job-1"
    assert not marker.exists()


def test_inside_a_job_an_explicit_event_is_watched_instead(fake_job: _FakeJob) -> None:
    fake_job.event.set()  # not the event watched: the command runs
    assert run_subprocess(_py("pass"), stop_event=threading.Event()).returncode == 0
    other = threading.Event()
    other.set()
    with pytest.raises(JobCancelledError) as caught:
        run_subprocess(_py("pass"), stop_event=other)
    assert caught.value.job_id is None  # another event's stop is not the job's


# -- bad arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"timeout": 0}, "timeout must be greater than 0"),
        ({"timeout": -1}, "timeout must be greater than 0"),
        ({"timeout": math.nan}, "timeout must be a finite number"),
        ({"timeout": math.inf}, "timeout must be a finite number"),
        ({"timeout": "5"}, "timeout must be a number of seconds"),
        ({"timeout": True}, "timeout must be a number of seconds"),
        ({"kill_grace": -0.5}, "kill_grace must not be negative"),
        ({"kill_grace": math.nan}, "kill_grace must be a finite number"),
        ({"kill_grace": math.inf}, "kill_grace must be a finite number"),
        ({"kill_grace": None}, "kill_grace must be a number of seconds"),
        ({"stop_event": object()}, "stop_event must be a threading.Event"),
        ({"stop_event": 5}, "stop_event must be a threading.Event"),
        ({"capture_output": True, "stdout": subprocess.PIPE}, "capture_output cannot"),
        ({"capture_output": True, "stderr": subprocess.DEVNULL}, "capture_output cannot"),
        ({"input": b"x", "stdin": subprocess.DEVNULL}, "input and stdin cannot"),
    ],
)
def test_bad_arguments_raise_configuration_error_and_start_nothing(
    options: dict[str, object], words: str, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    with pytest.raises(ConfigurationError, match=words):
        run_subprocess(_py(f"open({str(marker)!r}, 'w').close()"), **options)  # type: ignore[arg-type]
    assert not marker.exists()


def test_stdout_none_with_capture_output_is_allowed() -> None:
    # As for subprocess.run: None is the default, not a conflicting choice.
    result = run_subprocess(_py("print(1)"), capture_output=True, stdout=None, stdin=None)
    assert result.stdout == b"1\n"


# -- through a real scheduler --------------------------------------------------------------


def _cancel_running_job(q: Quiv, task_id: str, handler_ids: list[str]) -> Job:
    running: list[Job] = []

    def find() -> bool:
        running[:] = [
            job
            for job in q.get_all_jobs()
            if job.task_id == task_id and job.status == JobStatus.RUNNING
        ]
        return bool(running) and bool(handler_ids)

    wait_until(find, timeout=WAIT)
    (job,) = running
    assert handler_ids == [job.id]  # the injected _job_id is the job's
    assert q.cancel_job(job.id)
    return q.wait_for_job(job.id, timeout=15)


def test_cancelling_a_job_stops_the_command_its_handler_runs(
    quiv: Callable[..., Quiv],
) -> None:
    q = quiv(pool_size=2)
    q.start()
    handler_ids: list[str] = []
    raised: list[BaseException] = []

    def handler(_job_id: str) -> None:
        handler_ids.append(_job_id)
        try:
            run_subprocess(_py("import time; time.sleep(30)"), kill_grace=1.0)
        except BaseException as exc:
            raised.append(exc)
            raise

    task_id = q.add_task("sub", handler, interval=60)
    job = _cancel_running_job(q, task_id, handler_ids)
    assert [type(exc) for exc in raised] == [JobCancelledError]
    assert raised[0].job_id == job.id  # type: ignore[attr-defined]
    assert job.status in {"cancelled"}, job.error_message


def test_a_handler_may_pass_its_stop_event_explicitly(quiv: Callable[..., Quiv]) -> None:
    q = quiv(pool_size=2)
    q.start()
    handler_ids: list[str] = []
    raised: list[BaseException] = []

    def handler(_job_id: str, _stop_event: threading.Event) -> None:
        handler_ids.append(_job_id)
        try:
            run_subprocess(
                _py("import time; time.sleep(30)"), stop_event=_stop_event, kill_grace=1.0
            )
        except BaseException as exc:
            raised.append(exc)
            raise

    task_id = q.add_task("sub", handler, interval=60)
    job = _cancel_running_job(q, task_id, handler_ids)
    assert [type(exc) for exc in raised] == [JobCancelledError]
    assert job.status in {"cancelled"}, job.error_message


@posix_only
def test_shutdown_stops_the_command_a_running_job_runs(
    quiv: Callable[..., Quiv], tmp_path: Path
) -> None:
    q = quiv(pool_size=2)
    q.start()
    pid_file = tmp_path / "pid"
    raised: list[BaseException] = []

    def handler() -> None:
        try:
            run_subprocess(_sleeper(pid_file), kill_grace=1.0)
        except BaseException as exc:
            raised.append(exc)
            raise

    q.add_task("sub", handler, interval=60)
    (pid,) = _read_pids(pid_file)
    q.shutdown(timeout=15)
    assert [type(exc) for exc in raised] == [JobCancelledError]
    assert _reaped(pid)
