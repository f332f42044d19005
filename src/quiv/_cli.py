"""The ``quiv`` command line (also ``python -m quiv``)."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from collections.abc import Mapping, Sequence

__all__ = ["main"]


_DEMO_DESCRIPTION = """\
A tour of quiv in a terminal: one scheduler with a pool of 4 workers runs six tasks
and prints a timestamped line for each thing that happens, tagged by where it
happens (main: the asyncio loop, worker: a worker thread, event: a listener, log:
quiv's logger).

  heartbeat    an interval task; it is paused, resumed, and run at once
  download     an async job whose progress callback runs on the main loop
  long-export  a long job that is cancelled and stops at its stop event
  broken       a job that raises: its error is recorded, the scheduler goes on
  slow-report  a job stopped by its task's 1 s timeout
  flaky-sync   run with run_task and awaited; fails twice, succeeds on retry 2

It ends with the job history and a shutdown that deletes the temporary database.
--seconds is the whole run, shutdown included, counted once quiv is loaded;
below about 3 s some steps have no time to finish.
"""


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _write_files(directory: str, files: Mapping[str, str]) -> list[str]:
    """Write each ``name -> content`` of ``files`` into ``directory``; return the paths."""
    os.makedirs(directory, exist_ok=True)
    written = []
    for name, content in files.items():
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8", newline="\n") as file:
            file.write(content)
        written.append(path)
    return written


def _write_svgs(directory: str) -> int:
    """Bring the machines' SVGs in ``directory`` and in the package up to date (``dot``
    draws only those whose DOT changed); return the exit status."""
    import subprocess

    from . import _diagrams, _graphviz

    try:
        written = _graphviz.refresh(
            _diagrams.svg_sources(), [_diagrams.ASSETS, directory], _graphviz.find_dot()
        )
    except FileNotFoundError as exc:
        print(
            f"quiv diagram: {exc.strerror}, whose state machine changed, but `dot` is not on "
            "PATH: install Graphviz (Debian: apt-get install graphviz) and run this again",
            file=sys.stderr,
        )
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"quiv diagram: dot failed: {exc.stderr.strip()}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return the exit status."""
    parser = argparse.ArgumentParser(prog="quiv", description="quiv, an in-process scheduler")
    commands = parser.add_subparsers(dest="command", metavar="command")
    demo = commands.add_parser(
        "demo",
        help="a 10-second tour: tasks, progress, cancel, timeout, retries, events",
        description=_DEMO_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--seconds",
        type=_positive,
        default=10.0,
        help="how long it runs, shutdown included (default 10)",
    )
    diagram = commands.add_parser(
        "diagram", help="render the task and job state machines from their live definitions"
    )
    diagram.add_argument("which", nargs="?", choices=("task", "job", "all"), default="all")
    diagram.add_argument(
        "--format",
        choices=("mermaid", "dot", "table"),
        default="mermaid",
        help="Mermaid stateDiagram (default), Graphviz DOT, or a Markdown table of transitions",
    )
    diagram.add_argument("--output", "-o", help="write to this file instead of stdout")
    diagram.add_argument(
        "--docs",
        metavar="DIR",
        help="write every generated file the documentation embeds into DIR (docs/generated): "
        "these diagrams and tables, the module map of quiv's source, and the SVGs of the "
        "machines (also into the package; drawing one again needs Graphviz's dot)",
    )
    commands.add_parser("version", help="print the installed version")
    options = parser.parse_args(argv)
    if options.command is None:
        # Plain ``quiv`` asks what the command can do: answer, rather than fail.
        parser.print_help()
        return 0
    if options.command == "demo":
        from ._demo import run_demo

        return run_demo(options.seconds)
    if options.command == "diagram":
        from . import _diagrams, _modulemap

        if options.docs:
            files = {
                **_diagrams.docs_files(),
                **_modulemap.docs_files(pathlib.Path(__file__).parent),
            }
            for path in _write_files(options.docs, files):
                print(f"wrote {path}")
            return _write_svgs(options.docs)
        text = _diagrams.render(options.which, options.format)
        if options.output:
            with open(options.output, "w", encoding="utf-8", newline="\n") as file:
                file.write(text)
        else:
            sys.stdout.write(text)
        return 0
    from . import __version__

    print(__version__)
    return 0
