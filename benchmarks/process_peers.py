"""Process jobs against their peers, in one run: ``nox -s bench_processes``.

Measures the bare ``concurrent.futures.ProcessPoolExecutor`` and this tree's quiv
(``executor="process"``) with this interpreter, and APScheduler 3.x's ``ProcessPoolExecutor``
with the interpreter given as ``--env apscheduler=PYTHON`` (``nox -s bench_processes``
installs it into an environment of its own). Each subject runs in a fresh process, one after
the other, through ``_process_jobs.py``; every pool has ``PROCESSES`` processes, warmed up
first. Prints one table with ratios to the bare pool and writes JSON.

By hand::

    python benchmarks/process_peers.py --env apscheduler=/path/to/venv/bin/python \\
        --out benchmarks/results/processes.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _machine import describe  # noqa: E402

# A subject that has not finished by then is reported as hung (a pool that forks next to
# threads can deadlock: that is a finding, not a reason to wait for ever).
SUBJECT_TIMEOUT = 600


def _run(subject: str, python: str, samples: int, jobs: int) -> dict[str, Any] | None:
    """One subject measured in a fresh process; None if it failed or hung (said on stderr)."""
    print(f"-- {subject}: measuring ({python})", file=sys.stderr, flush=True)
    start = time.monotonic()
    try:
        out = subprocess.run(
            [python, os.path.join(HERE, "_process_jobs.py"), "--subject", subject,
             "--samples", str(samples), "--jobs", str(jobs)],
            check=True, stdout=subprocess.PIPE, text=True, timeout=SUBJECT_TIMEOUT,
        ).stdout  # fmt: skip
    except subprocess.TimeoutExpired:
        print(f"-- {subject}: hung, killed after {SUBJECT_TIMEOUT} s", file=sys.stderr)
        return None
    except subprocess.CalledProcessError as exc:
        print(f"-- {subject}: failed (exit status {exc.returncode})", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["seconds"] = time.monotonic() - start
    print(f"-- {subject}: {result['seconds']:.0f} s", file=sys.stderr, flush=True)
    return result


def _ratio(value: float, base: float) -> str:
    return "n/a" if base <= 0 else f"{value / base:.1f}x"


def render(results: dict[str, dict[str, Any]]) -> str:
    """One table: a column per subject, each value with its ratio to the bare pool."""
    bare = results["bare"]
    headers = ["metric"] + [
        f"{name} {r['latency']['version']} ({r['latency']['detail']})"
        for name, r in results.items()
    ]
    body: list[list[str]] = []
    for measure in ("from_due", "from_call"):
        base = bare["latency"][measure]
        cells = []
        for r in results.values():
            p = r["latency"][measure]
            cells.append(
                f"{p['p50']:.2f} / {p['p90']:.2f} / {p['max']:.2f} "
                f"({_ratio(p['p50'], base['p50'])} / {_ratio(p['p90'], base['p90'])})"
            )
        delay = bare["latency"]["delay_seconds"]
        body.append([f"latency {delay:g} s, {measure.replace('_', ' ')}: p50/p90/max ms", *cells])
    base_rate = bare["throughput"]["jobs_per_second"]
    jobs = bare["throughput"]["jobs"]
    body.append(
        [f"throughput, jobs/s ({jobs:,} trivial jobs)"]
        + [
            f"{r['throughput']['jobs_per_second']:,.0f} "
            f"({_ratio(r['throughput']['jobs_per_second'], base_rate)})"
            for r in results.values()
        ]
    )
    widths = [max(len(row[i]) for row in [headers, *body]) for i in range(len(headers))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for row in body:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=PYTHON: a peer and its interpreter"
    )
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="a smoke test: few samples")
    parser.add_argument("--out", default=None, help="write the results here as JSON")
    args = parser.parse_args(argv)
    samples, jobs = (20, 200) if args.quick else (args.samples, args.jobs)
    subjects = {"bare": sys.executable, "quiv": sys.executable}
    for pair in args.env:
        name, _, python = pair.partition("=")
        subjects[name] = python
    runs = {name: _run(name, python, samples, jobs) for name, python in subjects.items()}
    results = {name: result for name, result in runs.items() if result is not None}
    if "bare" not in results:
        sys.exit("the bare pool could not be measured: no baseline")
    print(render(results))
    failed = sorted(set(runs) - set(results))
    if failed:
        print(f"not measured (failed or hung): {', '.join(failed)}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            json.dump({"machine": describe(), "results": results, "failed": failed}, file, indent=1)
            file.write("\n")


if __name__ == "__main__":
    main()
