"""quiv against its peers, end to end, in one run: ``nox -s bench_peers``.

Measures the bare loop and this tree's quiv with this interpreter, and every peer given as
``--env NAME=PYTHON`` with that environment's interpreter (``nox -s bench_peers`` installs
quiv 0.4.0 and APScheduler 3.x from the registry into environments of their own: quiv 0.4.0
is imported as ``quiv`` too). Each subject runs in a process of its own, one after the other,
through ``_e2e.py all``. Prints one table with ratios to the bare loop and writes JSON.

quiv 0.4.0 polls its database once a second, so its latencies are around half a second and
its throughput around a hundred jobs per second: it gets fewer samples and fewer jobs, and no
10^5-task load (adding them would take minutes), which keeps its part of the run bounded.

By hand, after installing the peers somewhere::

    python benchmarks/peers.py --env quiv-0.4.0=/path/to/venv/bin/python --out peers.json
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

LOADS = [0, 10**3, 10**4]
PLAN = {
    "loads": LOADS,
    "delay_samples": 200,
    "run_now_samples": 200,
    "jobs": 20_000,
    "add_tasks": 1000,
    "add_rounds": 5,
    "idle_tasks": [10**3, 10**4],
    "idle_window": 5.0,
}
# quiv 0.4.0: about 1 s per latency sample, ~100 jobs/s, ~600 add_task/s.
POLLING_PLAN = {
    **PLAN,
    "delay_samples": 20,
    "run_now_samples": 10,
    "jobs": 200,
    "add_rounds": 1,
}
SUBJECT_OF = {"quiv-0.4.0": "quiv", "apscheduler": "apscheduler", "quiv": "quiv", "bare": "bare"}


def _run(label: str, python: str, plan: dict[str, Any]) -> dict[str, Any]:
    subject = SUBJECT_OF.get(label, label)
    start = time.monotonic()
    print(f"-- {label}: measuring ({python})", file=sys.stderr, flush=True)
    out = subprocess.run(
        [python, os.path.join(HERE, "_e2e.py"), "all", "--subject", subject, "--plan",
         json.dumps(plan)],
        check=True, stdout=subprocess.PIPE, text=True,
    ).stdout  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    result["label"] = label
    result["plan"] = plan
    result["seconds"] = time.monotonic() - start
    print(f"-- {label}: {result['seconds']:.0f} s", file=sys.stderr, flush=True)
    for kind in ("delay_latency", "run_now_latency"):
        for entry in result[kind]:
            entry.pop("samples_from_call", None)  # the percentiles are kept
    return result


def _ms(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def _ratio(value: float, base: float) -> str:
    if base <= 0:
        return "n/a"
    return f"{value / base:.1f}x"


def rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The table: (metric, one cell per subject), values with their ratio to bare."""
    bare = results["bare"]
    table: list[tuple[str, list[str]]] = []
    for kind, title in (("delay_latency", "delay 0.3 s"), ("run_now_latency", "run now")):
        for measure in ("from_due", "from_call"):
            for load in LOADS:
                base = next(e for e in bare[kind] if e["idle"] == load)[measure]
                cells = []
                for result in results.values():
                    found = [e for e in result[kind] if e["idle"] == load]
                    if not found:
                        cells.append("-")
                        continue
                    p = found[0][measure]
                    cells.append(
                        f"{_ms(p['p50'])} / {_ms(p['p90'])} / {_ms(p['max'])} "
                        f"({_ratio(p['p50'], base['p50'])} / {_ratio(p['p90'], base['p90'])})"
                    )
                label = f"{title}, {measure.replace('_', ' ')}, {load:,} idle: p50/p90/max ms"
                table.append((label, cells))

    def simple(label: str, pick: Any, fmt: str = "{:,.0f}") -> None:
        base = pick(bare)
        table.append(
            (label, [f"{fmt.format(pick(r))} ({_ratio(pick(r), base)})" for r in results.values()])
        )

    simple(
        "throughput, jobs/s (records kept by quiv)", lambda r: r["throughput"]["jobs_per_second"]
    )
    simple(
        "add_task, tasks/s (1,000 tasks, best round)", lambda r: r["add_rate"]["best_per_second"]
    )
    for entry_index, tasks in enumerate(PLAN["idle_tasks"]):
        simple(
            f"memory per idle task, bytes (RSS + database, {tasks:,} tasks)",
            lambda r, i=entry_index: r["memory"][i]["total_bytes_per_task"],
        )
    for tasks in (0, *PLAN["idle_tasks"]):
        simple(
            f"idle CPU, ms per 10 s ({tasks:,} tasks)",
            lambda r, t=tasks: next(e for e in r["idle"] if e["tasks"] == t)["cpu_ms_per_10s"],
            "{:.2f}",
        )
    return table


def render(results: dict[str, dict[str, Any]]) -> str:
    headers = ["metric"] + [f"{r['label']} {r['version']}".strip() for r in results.values()]
    body = rows(results)
    widths = [max(len(headers[0]), *(len(label) for label, _ in body))]
    for i in range(1, len(headers)):
        widths.append(max(len(headers[i]), *(len(cells[i - 1]) for _, cells in body)))
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for label, cells in body:
        lines.append(" | ".join(c.ljust(w) for c, w in zip([label, *cells], widths, strict=True)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=PYTHON: a peer and its interpreter"
    )
    parser.add_argument("--out", help="write the results here as JSON")
    parser.add_argument("--full", action="store_true", help="add the 10^5-idle-task load")
    parser.add_argument("--quick", action="store_true", help="a smoke test: few samples")
    options = parser.parse_args(argv)
    plan = dict(PLAN)
    polling = dict(POLLING_PLAN)
    if options.full:
        plan["loads"] = [*LOADS, 10**5]
    if options.quick:
        for sizes in (plan, polling):
            sizes.update(delay_samples=10, run_now_samples=5, add_rounds=1, idle_window=1.0)
        plan["jobs"] = 2000
    subjects = [("bare", sys.executable), ("quiv", sys.executable)]
    for pair in options.env:
        name, _, python = pair.partition("=")
        subjects.append((name, python))
    started = time.monotonic()
    results = {
        label: _run(label, python, polling if label == "quiv-0.4.0" else plan)
        for label, python in subjects
    }
    print(render(results))
    if options.out:
        os.makedirs(os.path.dirname(os.path.abspath(options.out)), exist_ok=True)
        with open(options.out, "w") as out:
            json.dump(
                {
                    "machine": describe(),
                    "seconds": time.monotonic() - started,
                    "datetime": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "subjects": results,
                },
                out,
                indent=1,
            )
            out.write("\n")
        print(f"written to {options.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
