"""The ``quiv`` command line (also ``python -m quiv``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["main"]


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return the exit status."""
    parser = argparse.ArgumentParser(prog="quiv", description="quiv, an in-process scheduler")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a ~10-second tour: tasks, progress, cancel, events")
    demo.add_argument(
        "--seconds", type=_positive, default=10.0, help="how long it runs (default 10)"
    )
    commands.add_parser("version", help="print the installed version")
    options = parser.parse_args(argv)
    if options.command == "demo":
        from ._demo import run_demo

        return run_demo(options.seconds)
    from . import __version__

    print(__version__)
    return 0
