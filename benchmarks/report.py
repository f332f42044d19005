"""Results of the benchmarks: compact a pytest-benchmark JSON, and render the docs page.

``python benchmarks/report.py compact RAW OUT`` keeps what the report needs from a
pytest-benchmark JSON (the layout stays pytest-benchmark's: ``machine_info``, ``commit_info``,
``benchmarks`` with ``group``, ``name``, ``params``, ``extra_info`` and ``stats``), minus every
round's raw timing, the CPU flags and the latency samples "from the call" (their percentiles
stay). ``nox -s bench`` writes one per Python to ``benchmarks/results/<python>.json``.

``python benchmarks/report.py render`` reads ``benchmarks/results/*.json`` (one per Python,
``peers.json`` from ``nox -s bench_peers`` and ``processes.json`` from ``nox -s
bench_processes``) and writes ``docs/performance.md`` and its plots in ``docs/performance/``
(``nox -s bench_report``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
PAGE = os.path.join(ROOT, "docs", "performance.md")
PLOTS = os.path.join(ROOT, "docs", "performance")
REFERENCE_PYTHON = "3.11"  # the peers' Python, and the one the detailed tables show

STATS = ("min", "median", "mean", "stddev", "rounds", "iterations")

# -- compact -------------------------------------------------------------------------------


def _round_floats(value: Any, digits: int) -> Any:
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, list):
        return [_round_floats(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _round_floats(v, digits) for k, v in value.items()}
    return value


def compact(raw_path: str, out_path: str) -> None:
    with open(raw_path) as raw:
        data = json.load(raw)
    machine = {k: v for k, v in data["machine_info"].items() if k != "cpu"}
    machine["cpu"] = {
        k: data["machine_info"].get("cpu", {}).get(k) for k in ("brand_raw", "count", "hz_actual")
    }
    benchmarks = []
    for bench in data["benchmarks"]:
        extra = dict(bench["extra_info"])
        extra.pop("samples_from_call", None)
        if "samples_from_due" in extra:
            extra["samples_from_due"] = _round_floats(extra["samples_from_due"], 3)
        benchmarks.append(
            {
                "group": bench["group"],
                "name": bench["name"],
                "params": {k: str(v) for k, v in (bench.get("params") or {}).items()},
                "extra_info": _round_floats(extra, 6),
                "stats": {k: bench["stats"][k] for k in STATS},
            }
        )
    commit = data.get("commit_info", {})
    result = {
        "machine_info": machine,
        "commit_info": {k: commit.get(k) for k in ("id", "branch", "dirty", "time")},
        "datetime": data.get("datetime"),
        "version": data.get("version"),
        "benchmarks": benchmarks,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as out:
        json.dump(result, out, separators=(",", ":"))
        out.write("\n")
    print(f"{out_path}: {len(benchmarks)} benchmarks, {os.path.getsize(out_path):,} bytes")


# -- loading -------------------------------------------------------------------------------


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def load_suites() -> dict[str, dict[str, Any]]:
    """Python version (as nox names it) -> compacted suite results."""
    suites = {}
    for path in glob.glob(os.path.join(RESULTS, "3.*.json")):
        version = os.path.basename(path)[: -len(".json")]
        with open(path) as f:
            suites[version] = json.load(f)
    return dict(sorted(suites.items(), key=lambda item: _version_key(item[0])))


def load_peers() -> dict[str, Any] | None:
    path = os.path.join(RESULTS, "peers.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_processes() -> dict[str, Any] | None:
    path = os.path.join(RESULTS, "processes.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_soak() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The soak's settings and samples (``nox -s soak -- --soak-log ...``), if recorded."""
    path = os.path.join(RESULTS, "soak.jsonl")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return lines[0]["settings"], lines[1:]


def e2e(suite: dict[str, Any], metric: str, **match: Any) -> list[dict[str, Any]]:
    """The extra_info of the end-to-end entries of ``metric`` matching ``match``."""
    found = []
    for bench in suite["benchmarks"]:
        info = bench["extra_info"]
        if info.get("metric") == metric and all(info.get(k) == v for k, v in match.items()):
            found.append(info)
    return found


def one(suite: dict[str, Any], metric: str, **match: Any) -> dict[str, Any] | None:
    found = e2e(suite, metric, **match)
    return found[0] if found else None


def micro(suite: dict[str, Any], group: str) -> list[dict[str, Any]]:
    return [b for b in suite["benchmarks"] if b["group"] == group]


# -- formatting ----------------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_time(seconds: float) -> str:
    """A duration with a unit that keeps 3 significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def ratio(value: float, base: float) -> str:
    if base <= 0 or value <= 0:
        return "\u2013"
    r = value / base
    return f"{r:.2f}\u00d7" if r < 10 else f"{r:,.0f}\u00d7"


def table(headers: list[str], rows: Iterable[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(headers) - 1)
    marks = {"l": "---", "r": "--:", "c": ":-:"}
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def yes(ok: bool) -> str:
    return "met" if ok else "**missed**"


# -- plots ---------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3})
    return plt


XLABEL = {
    "delay_latency": "ms after the due instant",
    "run_now_latency": "ms after the run-now call returned",
}
FLOOR_MS = 0.01  # the plots' log axis starts here; smaller (and negative) samples sit on it


#: Names in the plots: "quiv" alone could be this tree or the release it is measured against.
TREE, BARE = "this project", "bare loop"


def _peer_name(label: str, result: dict[str, Any]) -> str:
    """A peer's name in the plots: this tree, quiv 0.4.0, APScheduler 3.x.y or the bare loop."""
    if label == "quiv":
        return TREE
    if label == "bare":
        return BARE
    if label == "quiv-0.4.0":
        return f"quiv {result['version']}"
    return f"{'APScheduler' if label == 'apscheduler' else label} {result['version']}"


def _figure_legend(fig: Any, axes: Iterable[Any], ncol: int) -> None:
    """One legend for the figure, below the panels, with every line of every panel once.

    A panel's own legend would miss the lines that only other panels draw, and one placed by
    hand over the figure's bottom edge covers the panels' axis labels.
    """
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), fontsize=7, loc="outside lower center", ncol=ncol)


def _log_ms_axis(ax: Any) -> None:
    """A log axis of milliseconds from FLOOR_MS, labelled at the decades only: on a panel that
    spans less than a decade matplotlib labels the minor ticks too, and they overlap."""
    from matplotlib.ticker import LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_xlim(left=FLOOR_MS)
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _cdf(ax: Any, samples: list[float], **style: Any) -> float:
    """Draws the CDF of ``samples`` and returns the largest."""
    ordered = sorted(max(x, FLOOR_MS) for x in samples)
    n = len(ordered)
    ax.step(ordered, [(i + 1) / n for i in range(n)], where="post", **style)
    return ordered[-1]


def _save(fig: Any, name: str) -> str:
    os.makedirs(PLOTS, exist_ok=True)
    path = os.path.join(PLOTS, name)
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})
    return f"performance/{name}"


def plot_latency_by_load(suites: dict[str, Any], metric: str, title: str, name: str) -> str:
    """One panel per load; in each, this tree's CDF per Python version, bare's dotted."""
    plt = _pyplot()
    loads = sorted({e["idle"] for s in suites.values() for e in e2e(s, metric)})
    fig, axes = plt.subplots(
        1, len(loads), figsize=(3.4 * len(loads), 3.4), sharey=True, layout="constrained"
    )
    colors = plt.get_cmap("viridis")
    for ax, load in zip(axes, loads, strict=True):
        for i, (version, suite) in enumerate(suites.items()):
            color = colors(i / max(1, len(suites) - 1))
            for subject, who, style in (("quiv", TREE, "-"), ("bare", BARE, ":")):
                entry = one(suite, metric, subject=subject, idle=load)
                if entry:
                    label = f"{who}, Python {version}"
                    _cdf(ax, entry["samples_from_due"], color=color, linestyle=style, label=label)
        _log_ms_axis(ax)
        ax.set_title(f"{load:,} idle tasks")
        ax.set_xlabel(XLABEL[metric])
    axes[0].set_ylabel("fraction of runs started")
    _figure_legend(fig, axes, ncol=len(suites))
    fig.suptitle(title)
    result = _save(fig, name)
    plt.close(fig)
    return result


def plot_latency_by_python(suites: dict[str, Any], metric: str, title: str, name: str) -> str:
    """One panel per Python version; in each, this tree's CDF per load, bare's dotted."""
    plt = _pyplot()
    fig, axes = plt.subplots(
        1, len(suites), figsize=(3.0 * len(suites), 3.4), sharey=True, layout="constrained"
    )
    if len(suites) == 1:
        axes = [axes]
    colors = plt.get_cmap("plasma")
    for ax, (version, suite) in zip(axes, suites.items(), strict=True):
        loads = sorted({e["idle"] for e in e2e(suite, metric)})
        for i, load in enumerate(loads):
            color = colors(i / max(1, len(loads)))
            for subject, who, style in (("quiv", TREE, "-"), ("bare", BARE, ":")):
                entry = one(suite, metric, subject=subject, idle=load)
                if entry:
                    label = f"{who}, {load:,} idle"
                    _cdf(ax, entry["samples_from_due"], color=color, linestyle=style, label=label)
        _log_ms_axis(ax)
        ax.set_title(f"Python {version}")
        ax.set_xlabel(XLABEL[metric])
    axes[0].set_ylabel("fraction of runs started")
    _figure_legend(fig, axes, ncol=4)  # inside a panel, it covered the curves
    fig.suptitle(title)
    result = _save(fig, name)
    plt.close(fig)
    return result


def plot_throughput(suites: dict[str, Any], peers: dict[str, Any] | None) -> str:
    plt = _pyplot()
    panels = 2 if peers else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.2))
    axes = axes if panels > 1 else [axes]
    ax = axes[0]
    versions = list(suites)
    width = 0.38
    for offset, subject, color in ((-width / 2, "quiv", "#3b6ea8"), (width / 2, "bare", "#aaaaaa")):
        values = []
        for suite in suites.values():
            entry = one(suite, "throughput", subject=subject)
            values.append(entry["jobs_per_second"] if entry else 0)
        positions = [i + offset for i in range(len(versions))]
        ax.bar(positions, values, width, label=TREE if subject == "quiv" else BARE, color=color)
    ax.axhline(20_000, color="#c0392b", linestyle="--", linewidth=1, label="target 20,000/s")
    ax.set_xticks(range(len(versions)), versions)
    ax.set_xlabel("Python")
    ax.set_ylabel("trivial run-once jobs per second")
    ax.set_title("Throughput per Python version")
    ax.legend(fontsize=7)
    if peers:
        ax = axes[1]
        labels, values = [], []
        for label, result in peers["subjects"].items():
            name, version = _peer_name(label, result), result["version"]
            if label not in ("quiv", "bare"):  # the others' names end with their versions
                name, _, version = name.rpartition(" ")
            labels.append(f"{name}\n{version}".replace("Python ", "Py "))
            values.append(result["throughput"]["jobs_per_second"])
        ax.bar(range(len(values)), values, color=["#aaaaaa", "#3b6ea8", "#8e44ad", "#e67e22"])
        ax.set_yscale("log")
        ax.axhline(20_000, color="#c0392b", linestyle="--", linewidth=1)
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(f"Throughput against the peers (Python {peers['machine']['python']})")
        for i, value in enumerate(values):
            ax.text(i, value, f"{value:,.0f}", ha="center", va="bottom", fontsize=7)
    result = _save(fig, "throughput.png")
    plt.close(fig)
    return result


def plot_peers_latency(peers: dict[str, Any]) -> str:
    plt = _pyplot()
    loads = peers["subjects"]["bare"]["plan"]["loads"]
    fig, axes = plt.subplots(
        2, len(loads), figsize=(3.4 * len(loads), 6.0), sharey=True, sharex="row",
        layout="constrained",
    )  # fmt: skip
    colors = {
        "bare": "#777777",
        "quiv": "#3b6ea8",
        "quiv-0.4.0": "#8e44ad",
        "apscheduler": "#e67e22",
    }
    for row, (metric, what) in enumerate(
        (("delay_latency", "delay 0.3 s"), ("run_now_latency", "run now"))
    ):
        largest = FLOOR_MS
        for ax, load in zip(axes[row], loads, strict=True):
            for label, result in peers["subjects"].items():
                entry = next((e for e in result[metric] if e["idle"] == load), None)
                if entry:
                    name = _peer_name(label, result)
                    top = _cdf(ax, entry["samples_from_due"], color=colors.get(label), label=name)
                    largest = max(largest, top)
            _log_ms_axis(ax)
            ax.set_title(f"{what}, {load:,} idle tasks")
            ax.set_xlabel(XLABEL[metric])
        # The row shares one x range (every panel's curves whole), so panels compare at a look.
        axes[row][0].set_xlim(FLOOR_MS, largest * 1.6)
        axes[row][0].set_ylabel("fraction of runs started")
    # quiv 0.4.0 is measured at the smaller loads only: a legend of every panel's lines.
    _figure_legend(fig, axes.flat, ncol=len(peers["subjects"]))
    result = _save(fig, "peers-latency.png")
    plt.close(fig)
    return result


# -- the page ------------------------------------------------------------------------------

HEADER = """---
description: "Benchmarks of dispatch latency, throughput and overhead against a bare loop,
  quiv 0.4.0 and APScheduler, with the method, the machine and their caveats."
---

# Performance

<!-- Generated by `nox -s bench_report` (benchmarks/report.py) from benchmarks/results/*.json.
     Do not edit by hand: change the report script and render again. -->

quiv's benchmarks live in `benchmarks/` in the repository (see its `README.md`). Every
figure below comes from one run of them on the machine described under
[Machine](#machine), and every group carries its own baseline, measured in the same run.

!!! note "Reading these numbers"
    Timings on a shared 2-core virtual machine are noisy: millisecond latencies swing by
    several milliseconds between runs. Treat an absolute figure as an order of magnitude.
    What counts is the **ratio to the baseline measured in the same run**, which is why
    every table shows one. Run the benchmarks yourself before relying on a figure.

## Reproduce

```console
uv run nox -s bench           # the suite, on every Python from 3.10 to 3.14 found on PATH
uv run nox -s bench-3.12      # the suite, on one Python
uv run nox -s bench_peers     # quiv 0.4.0, APScheduler 3.x and the bare loop, one table
uv run nox -s bench_report    # this page and its plots
```

`bench` writes `benchmarks/results/<python>.json`, `bench_peers` writes
`benchmarks/results/peers.json`, and `bench_report` renders this page from both. A Python
that is not installed is reported by nox as skipped, and this page then shows the others.
With pyenv, `PYENV_VERSION` lists the versions its shims put on `PATH`
(`PYENV_VERSION=3.12.4:3.13.1 uv run nox -s bench`).
"""


def section_machine(suites: dict[str, Any], peers: dict[str, Any] | None) -> str:
    first = next(iter(suites.values()))["machine_info"]["quiv_bench"] if suites else {}
    if not first and peers:
        first = peers["machine"]
    memory = first.get("memory_bytes")
    lines = [
        "## Machine",
        "",
        table(
            ["", ""],
            [
                ["platform", first.get("platform", "?")],
                ["CPU", f"{first.get('cpu_model', '?')}, {first.get('cpu_count', '?')} cores"],
                ["memory", f"{memory / 2**30:.0f} GiB" if memory else "?"],
            ],
            "ll",
        ),
        "",
        "Interpreters (one suite run each, one after the other):",
        "",
    ]
    rows = []
    for suite in suites.values():
        info = suite["machine_info"]["quiv_bench"]
        rows.append(
            [
                f"Python {info['python']}",
                info["python_build"],
                info["python_compiler"],
                f"SQLite {info['sqlite']}",
                (suite.get("datetime") or "")[:16].replace("T", " "),
            ]
        )
    lines.append(table(["interpreter", "build", "compiler", "SQLite", "run (UTC)"], rows, "lllll"))
    # One hash once, however many suites ran on it, with or without changes on top.
    commits = {(s["commit_info"].get("id") or "?")[:10] for s in suites.values()}
    dirty = any(s["commit_info"].get("dirty") for s in suites.values())
    measured = ", ".join(sorted(commits)) + (", with uncommitted changes" if dirty else "")
    lines += ["", f"Measured on the working tree of commit {measured}."]
    lines += [
        "",
        '!!! warning "Comparing Python versions"',
        "    The 3.14 interpreter is Debian's `python3.14` package (from its unstable suite),",
        "    which is built with profile-guided optimisation and link-time optimisation."
        " The 3.10 to 3.13 interpreters are",
        "    pyenv builds without either. Part of any difference between 3.14 and the others",
        "    is the build, not the language version; it also links a newer SQLite.",
        "",
    ]
    return "\n".join(lines)


def _latency_cell(entry: dict[str, Any] | None, base: dict[str, Any] | None, measure: str) -> str:
    if not entry:
        return "\u2013"
    p = entry[measure]
    text = f"{fmt_ms(p['p50'])} / {fmt_ms(p['p90'])} / {fmt_ms(p['p99'])} / {fmt_ms(p['max'])}"
    if base and base is not entry:
        b = base[measure]
        text += f" ({ratio(p['p50'], b['p50'])} / {ratio(p['p90'], b['p90'])})"
    return text


def section_peers(peers: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    subjects = peers["subjects"]
    bare = subjects["bare"]
    names = {"bare": "bare loop", "quiv": "quiv {} (this tree)", "quiv-0.4.0": "quiv {}"}
    names["apscheduler"] = "APScheduler {}"
    headers = ["metric"] + [
        names.get(label, label + " {}").format(r["version"]) for label, r in subjects.items()
    ]
    rows = []
    for metric, what in (("delay_latency", "delay 0.3 s"), ("run_now_latency", "run now")):
        for measure in ("from_due", "from_call"):
            for load in bare["plan"]["loads"]:
                base = next(e for e in bare[metric] if e["idle"] == load)
                cells = []
                for result in subjects.values():
                    entry = next((e for e in result[metric] if e["idle"] == load), None)
                    cells.append(_latency_cell(entry, base, measure))
                where = "from due" if measure == "from_due" else "from call"
                rows.append([f"{what}, {where}, {load:,} idle tasks", *cells])

    def simple(label: str, pick: Callable[[dict[str, Any]], float], digits: str) -> None:
        base = pick(bare)
        cells = []
        for r in subjects.values():
            value = pick(r)
            text = format(value, digits)
            cells.append(text if r is bare else f"{text} ({ratio(value, base)})")
        rows.append([label, *cells])

    simple("throughput, jobs/s", lambda r: r["throughput"]["jobs_per_second"], ",.0f")
    simple("`add_task`, tasks/s (1,000 tasks)", lambda r: r["add_rate"]["best_per_second"], ",.0f")
    for i, tasks in enumerate(bare["plan"]["idle_tasks"]):
        simple(
            f"memory per idle task, bytes ({tasks:,} tasks)",
            lambda r, i=i: r["memory"][i]["total_bytes_per_task"],
            ",.0f",
        )
    for tasks in (0, *bare["plan"]["idle_tasks"]):
        simple(
            f"idle CPU, ms per 10 s ({tasks:,} tasks)",
            lambda r, t=tasks: next(e for e in r["idle"] if e["tasks"] == t)["cpu_ms_per_10s"],
            ".2f",
        )
    machine = peers["machine"]
    plans = {label: r["plan"] for label, r in subjects.items()}
    polling = plans.get("quiv-0.4.0")
    text = [
        "## quiv against its peers",
        "",
        f"One run of `nox -s bench_peers` on Python {machine['python']}"
        f" ({machine['python_build']}), {peers['datetime'][:10]}, {peers['seconds'] / 60:.0f}"
        " minutes. Every scheduler runs with a pool of 10 threads, in a process of its own,",
        "one after the other; the bare loop is the baseline. Latencies are in ms as",
        "p50 / p90 / p99 / max, with the p50 and p90 ratios to the bare loop in brackets.",
        f"Each latency row has {plans['bare']['delay_samples']} samples per scheduler",
        "(quiv 0.4.0: "
        + (
            f"{polling['delay_samples']} delay and"
            f" {polling['run_now_samples']} run-now samples, {polling['jobs']}"
            " jobs for its throughput, since it polls once a second)."
            if polling
            else "not measured)."
        ),
        "quiv keeps a record of every job (in its SQLite database, written behind by a",
        "thread); APScheduler keeps none, and neither does the bare loop.",
        "",
        table(headers, rows),
        "",
        f"![Latency CDFs against the peers]({plot_peers_latency(peers)})",
        "",
    ]
    return "\n".join(text), subjects


def section_processes(run: dict[str, Any]) -> str:
    """Process jobs: quiv's executor="process" against APScheduler's process pool and the
    bare concurrent.futures pool (``nox -s bench_processes``)."""
    results = run["results"]
    bare = results["bare"]
    names = {"bare": "bare pool", "quiv": "quiv {} (this tree)", "apscheduler": "APScheduler {}"}
    headers = ["metric"] + [
        names.get(label, label + " {}").format(r["latency"]["version"])
        for label, r in results.items()
    ]
    rows = [["pool", *(r["latency"]["detail"] for r in results.values())]]
    delay = bare["latency"]["delay_seconds"]
    for measure, where in (("from_due", "from due"), ("from_call", "from call")):
        base = bare["latency"][measure]
        cells = []
        for r in results.values():
            p = r["latency"][measure]
            text = f"{fmt_ms(p['p50'])} / {fmt_ms(p['p90'])} / {fmt_ms(p['max'])}"
            if r is not bare:
                text += f" ({ratio(p['p50'], base['p50'])} / {ratio(p['p90'], base['p90'])})"
            cells.append(text)
        rows.append([f"latency, delay {delay:g} s, {where}: p50 / p90 / max ms", *cells])
    base_rate = bare["throughput"]["jobs_per_second"]
    cells = []
    for r in results.values():
        rate = r["throughput"]["jobs_per_second"]
        cells.append(f"{rate:,.0f}" if r is bare else f"{rate:,.0f} ({ratio(rate, base_rate)})")
    rows.append([f"throughput, jobs/s ({bare['throughput']['jobs']:,} trivial jobs)", *cells])
    machine = run["machine"]
    samples = bare["latency"]["from_due"]["n"]
    failed = run.get("failed") or []
    text = [
        "## Process jobs against their peers",
        "",
        f"One run of `nox -s bench_processes` on Python {machine['python']}"
        f" ({machine['python_build']}),",
        f"{machine.get('cpu_count')} CPUs. Each subject runs handlers in a pool of 2 processes,",
        "warmed up first (every process has run a job), in a process of its own, one after",
        'the other: quiv with `executor="process"`, APScheduler',
        "3.x with its `ProcessPoolExecutor` as it comes (the interpreter's default start",
        "method), and the bare `concurrent.futures.ProcessPoolExecutor`, which a thread feeds",
        "at each due instant, as the baseline. The latency is from the due instant (or the",
        "call) to the handler's entry in its child, on the system's monotonic clock, one job at",
        f"a time, {samples} samples; ratios to the bare pool in brackets. quiv runs one job per",
        "process at a time (so that it can stop, kill and replace that process for that job),",
        "relayed by a worker thread, and keeps every job's record; the bare pool and APScheduler",
        "queue work to their processes ahead and keep none.",
        "",
        table(headers, rows),
        "",
    ]
    if failed:
        text += [f"Not measured in this run (failed or hung): {', '.join(failed)}.", ""]
    return "\n".join(text)


def plot_soak(samples: list[dict[str, Any]]) -> str:
    plt = _pyplot()
    minutes = [sample["elapsed"] / 60 for sample in samples]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    panels = [
        ("rss", "resident memory (MiB)"),
        ("threads", "threads"),
        ("table", "rows in the job table"),
    ]
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.plot(minutes, [sample[key] for sample in samples], color="tab:blue")
        ax.set_xlabel("minutes")
        ax.set_title(label)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = _save(fig, "soak.png")
    plt.close(fig)
    return path


def section_soak(settings: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    last = samples[-1]
    warm = [sample for sample in samples if sample["elapsed"] >= 600]
    minutes = last["elapsed"] / 60
    lines = [
        "## Soak",
        "",
        f"{settings['tasks']:,} interval tasks (1-8 s, one in 50 failing) on a pool of "
        f"{settings['pool_size']}, with tasks removed, added and run once between samples, "
        f"history kept {settings['retention_seconds']} s, for {minutes:.0f} minutes on Python "
        f"{settings['python']} (started {settings['started_utc']}): {last['jobs']:,} jobs, "
        f"{last['jobs'] / last['elapsed']:,.0f} a second. Sampled every minute by "
        "`nox -s soak -- --soak-minutes 125 --soak-log benchmarks/results/soak.jsonl`, "
        "which fails if a sample grows without bound.",
        "",
        table(
            ["after 10 min", "lowest", "highest"],
            [
                [
                    "resident memory (MiB)",
                    f"{min(x['rss'] for x in warm):.1f}",
                    f"{max(x['rss'] for x in warm):.1f}",
                ],
                [
                    "threads",
                    str(min(x["threads"] for x in warm)),
                    str(max(x["threads"] for x in warm)),
                ],
                ["open files", str(min(x["fds"] for x in warm)), str(max(x["fds"] for x in warm))],
                [
                    "rows in the job table",
                    f"{min(x['table'] for x in warm):,}",
                    f"{max(x['table'] for x in warm):,}",
                ],
            ],
            "lrr",
        ),
        "",
        f"![Soak: memory, threads and job rows over time]({plot_soak(samples)})",
        "",
    ]
    return "\n".join(lines)


def section_e2e(suites: dict[str, Any]) -> str:
    lines = [
        "## End to end, per Python version",
        "",
        "quiv against the bare loop, both measured in each Python's suite run. Latencies in",
        "ms as p50 / p90 / p99 / max, with the p50 and p90 ratios to the bare loop.",
        "",
    ]
    for metric, what in (("delay_latency", "Delay 0.3 s"), ("run_now_latency", "Run now")):
        for measure, where in (
            ("from_due", "from the due instant"),
            ("from_call", "from the call"),
        ):
            rows = []
            for version, suite in suites.items():
                for entry in sorted(e2e(suite, metric, subject="quiv"), key=lambda e: e["idle"]):
                    base = one(suite, metric, subject="bare", idle=entry["idle"])
                    rows.append(
                        [
                            version,
                            f"{entry['idle']:,}",
                            _latency_cell(entry, base, measure),
                            _latency_cell(base, None, measure),
                        ]
                    )
            lines += [
                f"### {what}, {where}",
                "",
                table(["Python", "idle tasks", "quiv", "bare loop"], rows, "lrrr"),
                "",
            ]
    rows = []
    for version, suite in suites.items():
        tq, tb = one(suite, "throughput", subject="quiv"), one(suite, "throughput", subject="bare")
        aq = one(suite, "add_rate", subject="quiv", tasks=1000)
        ab = one(suite, "add_rate", subject="bare", tasks=1000)
        aq4 = one(suite, "add_rate", subject="quiv", tasks=10000)
        mem = one(suite, "idle", subject="quiv", tasks=10000)
        memb = one(suite, "idle", subject="bare", tasks=10000)
        cpu = {t: one(suite, "idle", subject="quiv", tasks=t) for t in (0, 1000, 10000)}
        cpub = one(suite, "idle", subject="bare", tasks=10000)
        rows.append(
            [
                version,
                f"{tq['jobs_per_second']:,.0f}"
                f" ({ratio(tq['jobs_per_second'], tb['jobs_per_second'])})"
                if tq and tb
                else "\u2013",
                f"{aq['per_second']:,.0f} / {aq4['per_second']:,.0f}" if aq and aq4 else "\u2013",
                f"{ab['per_second']:,.0f}" if ab else "\u2013",
                f"{mem['rss_bytes_per_task']:,.0f} + {mem['database_bytes_per_task']:,.0f}"
                if mem
                else "\u2013",
                f"{memb['rss_bytes_per_task']:,.0f}" if memb else "\u2013",
                " / ".join(f"{c['cpu_ms_per_10s']:.2f}" for c in cpu.values() if c),
                f"{cpub['cpu_ms_per_10s']:.2f}" if cpub else "\u2013",
            ]
        )
    lines += [
        "### Throughput, `add_task`, memory and idle CPU",
        "",
        "Throughput: 20,000 trivial run-once jobs (delay 0) added to a started scheduler, from",
        "the first `add_task` to the last job record written, best of 3 rounds (ratio to the",
        "bare loop, which keeps no records). `add_task`: median of 5 rounds, 1,000 / 10,000",
        "interval tasks. Memory: bytes per idle task at 10,000 tasks, RSS + database files.",
        "Idle CPU: process CPU time while idle, in ms per 10 s, with 0 / 1,000 / 10,000 tasks.",
        "",
        table(
            [
                "Python",
                "jobs/s (quiv)",
                "add_task/s (quiv)",
                "add/s (bare)",
                "B/task (quiv)",
                "B/task (bare)",
                "idle CPU (quiv)",
                "idle CPU (bare, 10,000)",
            ],
            rows,
            "lrrrrrrr",
        ),
        "",
        f"![Throughput]({plot_throughput(suites, load_peers())})",
        "",
        "Latency from the due instant to the handler's entry, as CDFs (logarithmic axis;",
        "samples below 0.01 ms, run-now ones that came before the call returned included,",
        "are drawn at 0.01 ms):",
        "",
        "![Delay latency by load]("
        + plot_latency_by_load(suites, "delay_latency", "Delay 0.3 s: by load", "delay-by-load.png")
        + ")",
        "",
        "![Delay latency by Python]("
        + plot_latency_by_python(
            suites, "delay_latency", "Delay 0.3 s: by Python version", "delay-by-python.png"
        )
        + ")",
        "",
        "![Run-now latency by load]("
        + plot_latency_by_load(suites, "run_now_latency", "Run now: by load", "run-now-by-load.png")
        + ")",
        "",
    ]
    return "\n".join(lines)


def _per_op(bench: dict[str, Any]) -> float:
    info = bench["extra_info"]
    per = info.get("ops_per_round") or info.get("rows_per_round") or 1
    return bench["stats"]["median"] / per


def section_timing(suites: dict[str, Any], reference: str) -> tuple[str, dict[str, float]]:
    suite = suites[reference]
    ops = ["pop_due", "peek", "schedule", "cancel", "reschedule"]
    sizes = sorted({b["extra_info"]["n"] for b in micro(suite, "timing.peek")})
    rows = []
    for op in ops:
        by = {
            (b["extra_info"]["impl"], b["extra_info"]["n"]): _per_op(b)
            for b in micro(suite, f"timing.{op}")
        }
        for impl in ("Timeline", "heapq", "scan"):
            cells = [fmt_time(by[(impl, n)]) if (impl, n) in by else "\u2013" for n in sizes]
            growth = (
                ratio(by[(impl, 10**6)], by[(impl, 10**3)])
                if (impl, 10**6) in by and (impl, 10**3) in by
                else "\u2013"
            )
            rows.append([f"`{op}`" if impl == "Timeline" else "", impl, *cells, growth])
    growth_rows = []
    worst: dict[str, float] = {}
    for version, s in suites.items():
        cells = []
        for op in ops:
            growth = {}
            for impl in ("Timeline", "scan"):
                by = {
                    b["extra_info"]["n"]: _per_op(b)
                    for b in micro(s, f"timing.{op}")
                    if b["extra_info"]["impl"] == impl
                }
                if 10**6 in by and 10**3 in by:
                    growth[impl] = by[10**6] / by[10**3]
            if "Timeline" in growth:
                worst[f"{version} {op}"] = growth["Timeline"]
                cell = f"{growth['Timeline']:.1f}\u00d7"
                if "scan" in growth:
                    cell += f" (dict {growth['scan']:.1f}\u00d7)"
                cells.append(cell)
            else:
                cells.append("\u2013")
        growth_rows.append([version, *cells])
    text = [
        "## Timing structure",
        "",
        f"Cost of one operation (median of 100-operation rounds), Python {reference}, against",
        "`heapq` with lazy deletion and a linear scan of a dict. The scan's `peek` and",
        "`pop_due` scan the dict, so they stop at 10^4 entries; its `schedule`, `cancel` and",
        "`reschedule` are one dict operation each, measured at every size: the floor of any",
        "structure that finds its entries by key, and what memory latency alone adds as the",
        "structure outgrows the CPU's caches. The last column is the cost at 10^6 entries over",
        "the cost at 10^3.",
        "",
        table(
            ["operation", "structure", *[f"10^{len(str(n)) - 1}" for n in sizes], "10^6 / 10^3"],
            rows,
            "ll" + "r" * (len(sizes) + 1),
        ),
        "",
        "`Timeline`'s growth from 10^3 to 10^6 entries, per Python version (in brackets, the",
        "growth of one dict operation on a random key, measured beside it):",
        "",
        table(["Python", *[f"`{op}`" for op in ops]], growth_rows),
        "",
    ]
    return "\n".join(text), worst


def _median_table(
    suite: dict[str, Any], groups: list[str], key: Callable[[dict[str, Any]], str]
) -> list[list[str]]:
    rows = []
    for group in groups:
        benches = micro(suite, group)
        if not benches:
            continue
        best = min(_per_op(b) for b in benches)
        for i, b in enumerate(sorted(benches, key=_per_op)):
            name = "" if i else f"`{group}`"  # printed once
            rows.append([name, key(b), fmt_time(_per_op(b)), ratio(_per_op(b), best)])
    return rows


def section_micro(suites: dict[str, Any], reference: str) -> str:
    suite = suites[reference]
    job_life = _median_table(
        suite, ["transitions.job_life"], lambda b: b["name"].split("[", 1)[1].rstrip("]")
    )
    each = []
    for kind in ("task", "job"):
        by: dict[str, list[float]] = {}
        for b in micro(suite, f"transitions.each.{kind}"):
            by.setdefault(b["extra_info"]["impl"], []).append(b["stats"]["median"])
        if by:
            each.append(
                [
                    kind,
                    str(len(by.get("quiv", []))),
                    fmt_time(sum(by["quiv"]) / len(by["quiv"])),
                    fmt_time(sum(by["transitions"]) / len(by["transitions"])),
                ]
            )
    invocation = _median_table(
        suite,
        [
            "invocation.inspect_cold",
            "invocation.inspect_cached",
            "invocation.arguments",
            "invocation.start_sync",
            "invocation.start_async",
        ],
        lambda b: b["name"].split("[", 1)[1].rstrip("]"),
    )
    store_rows = []
    groups = sorted(
        {b["group"] for b in suite["benchmarks"] if (b["group"] or "").startswith("store.")}
    )
    sizes = sorted({b["extra_info"]["n"] for b in suite["benchmarks"] if b["group"] in groups})
    for group in groups:
        impls = sorted({b["extra_info"]["impl"] for b in micro(suite, group)})
        for impl in impls:
            by_n = {
                b["extra_info"]["n"]: b
                for b in micro(suite, group)
                if b["extra_info"]["impl"] == impl
            }
            per_row = group in ("store.task_insert", "store.job_write")
            cells = [
                fmt_time(_per_op(by_n[n]) if per_row else by_n[n]["stats"]["median"])
                if n in by_n
                else "\u2013"
                for n in sizes
            ]
            store_rows.append([f"`{group}`" if impl == impls[0] else "", impl, *cells])
    return "\n".join(
        [
            "## State machines",
            "",
            f"Python {reference}. One run's four status changes (task start, job start, job",
            "complete, task finish), as quiv makes them (a table compiled from the",
            "`transitions` machine) and with `transitions` itself:",
            "",
            table(["group", "how", "median", "ratio"], job_life),
            "",
            "Every legal change, averaged over the changes of each kind:",
            "",
            table(["kind", "changes", "quiv `next_state`", "`transitions` trigger"], each),
            "",
            "## Invocation",
            "",
            f"Python {reference}; medians, ratio to the fastest of the group.",
            "",
            table(["group", "case", "median", "ratio"], invocation),
            "",
            "## Store",
            "",
            f"Python {reference}; medians. Writes are per row (a round writes 1,000 rows: for",
            "`job_write`, 1,000 jobs of three changes each); reads are per call, and the `_all`",
            "reads return every row. The baseline is the `sqlite3` driver alone on the same file.",
            "",
            table(
                ["group", "how", *[f"{n:,} rows" for n in sizes]],
                store_rows,
                "ll" + "r" * len(sizes),
            ),
            "",
        ]
    )


def section_targets(  # noqa: PLR0915 (one row after the other)
    suites: dict[str, Any],
    peers: dict[str, Any] | None,
    reference: str,
    timing_growth: dict[str, float],
) -> str:
    rows = []
    # Latency, against the bare loop, every Python and load.
    for metric, what in (("delay_latency", "Delay"), ("run_now_latency", "Run-now")):
        for measure in ("from_due", "from_call"):
            worst = (0.0, "")
            for version, suite in suites.items():
                for entry in e2e(suite, metric, subject="quiv"):
                    base = one(suite, metric, subject="bare", idle=entry["idle"])
                    if not base:
                        continue
                    for q in ("p50", "p90"):
                        b = max(base[measure][q], 1e-3)
                        r = entry[measure][q] / b
                        if r > worst[0]:
                            worst = (r, f"Python {version}, {entry['idle']:,} idle, {q}")
            where = "from due" if measure == "from_due" else "from call"
            rows.append(
                [
                    f"{what} latency ({where}) p50 and p90 within 1.5\u00d7 of bare",
                    f"worst {worst[0]:.2f}\u00d7 ({worst[1]})",
                    yes(worst[0] <= 1.5),
                ]
            )
    if peers:
        subjects = peers["subjects"]
        if "apscheduler" in subjects:
            for metric, what in (("delay_latency", "Delay"), ("run_now_latency", "Run-now")):
                for measure in ("from_due", "from_call"):
                    worst = (0.0, "")
                    for entry in subjects["quiv"][metric]:
                        aps = next(
                            e for e in subjects["apscheduler"][metric] if e["idle"] == entry["idle"]
                        )
                        for q in ("p50", "p90"):
                            r = entry[measure][q] / max(aps[measure][q], 1e-3)
                            if r > worst[0]:
                                worst = (r, f"{entry['idle']:,} idle, {q}")
                    where = "from due" if measure == "from_due" else "from call"
                    rows.append(
                        [
                            f"{what} latency ({where}) never worse than APScheduler's",
                            f"worst {worst[0]:.2f}\u00d7 APScheduler ({worst[1]})",
                            yes(worst[0] <= 1.0),
                        ]
                    )
    throughputs = {v: one(s, "throughput", subject="quiv") for v, s in suites.items()}
    low = min((t["jobs_per_second"], v) for v, t in throughputs.items() if t)
    high = max((t["jobs_per_second"], v) for v, t in throughputs.items() if t)
    rows.append(
        [
            "Throughput ≥ 20,000 jobs/s, records kept",
            f"{low[0]:,.0f} (Python {low[1]}) to {high[0]:,.0f} (Python {high[1]})",
            yes(low[0] >= 20_000),
        ]
    )
    if peers and "apscheduler" in peers["subjects"]:
        q = peers["subjects"]["quiv"]["throughput"]["jobs_per_second"]
        a = peers["subjects"]["apscheduler"]["throughput"]["jobs_per_second"]
        rows.append(["Throughput ≥ 2\u00d7 APScheduler", f"{q / a:.2f}\u00d7", yes(q >= 2 * a)])
    if peers and "quiv-0.4.0" in peers["subjects"]:
        q = peers["subjects"]["quiv"]["throughput"]["jobs_per_second"]
        o = peers["subjects"]["quiv-0.4.0"]["throughput"]["jobs_per_second"]
        rows.append(["Throughput ≥ 200\u00d7 quiv 0.4.0", f"{q / o:,.0f}\u00d7", yes(q >= 200 * o)])
    adds = {v: one(s, "add_rate", subject="quiv", tasks=1000) for v, s in suites.items()}
    low = min((a["per_second"], v) for v, a in adds.items() if a)
    high = max((a["per_second"], v) for v, a in adds.items() if a)
    rows.append(
        [
            "`add_task` ≥ 50,000 tasks/s (1,000 tasks, median round)",
            f"{low[0]:,.0f} (Python {low[1]}) to {high[0]:,.0f} (Python {high[1]})",
            yes(low[0] >= 50_000),
        ]
    )
    if timing_growth:
        worst_key = max(timing_growth, key=timing_growth.__getitem__)
        rows.append(
            [
                "Timing structure: per-operation cost at 10^6 within 2\u00d7 of 10^3",
                f"worst {timing_growth[worst_key]:.1f}\u00d7 (Python {worst_key})",
                yes(timing_growth[worst_key] <= 2.0),
            ]
        )
    mems = {}
    for version, suite in suites.items():
        for entry in e2e(suite, "idle", subject="quiv"):
            if entry.get("tasks", 0) >= 10**4:
                mems[f"{version}, {entry['tasks']:,} tasks"] = entry["total_bytes_per_task"]
    if mems:
        key = max(mems, key=mems.__getitem__)
        rows.append(
            [
                "≤ 1 KiB per idle task, database included",
                f"worst {mems[key]:,.0f} B (Python {key})",
                yes(mems[key] <= 1024),
            ]
        )
    worst_cpu = (-1e9, "")
    for version, suite in suites.items():
        for entry in e2e(suite, "idle", subject="quiv"):
            base = one(suite, "idle", subject="bare", tasks=entry["tasks"])
            if base:
                d = entry["cpu_ms_per_10s"] - base["cpu_ms_per_10s"]
                if d > worst_cpu[0]:
                    worst_cpu = (d, f"Python {version}, {entry['tasks']:,} tasks")
    rows.append(
        [
            "Idle CPU within 2 ms per 10 s of bare",
            f"worst {worst_cpu[0]:+.2f} ms ({worst_cpu[1]})",
            yes(worst_cpu[0] <= 2.0),
        ]
    )
    return "\n".join(
        [
            "## Targets",
            "",
            "The speed quiv is meant to reach, checked against every Python's suite run and the",
            "peers' run. A ratio below 1 means quiv was faster than the baseline.",
            "",
            table(["target", "measured", ""], rows, "lrl"),
            "",
        ]
    )


PROFILE = """## Where quiv's time goes, and what the missed targets would take

Written by hand (not rendered) from the measurements of 2026-11-28, on this machine. The
scripts named reproduce them; "interleaved" means runs of the code before and after a change,
alternated on the same machine, since its figures drift by 10 to 30% from one minute to the
next.

**What changed the figures above** (the evening of 2026-11-28; the afternoon's changes are
listed in `docs/design/architecture.md`):

- *Work off the scheduler thread.* The scheduler thread holds a state lock from waking
  until it sleeps. While it sleeps with nothing queued, a worker that ends a job takes the
  lock, records the end and starts what is due itself, and `run_task_immediately` makes
  an idle task's run and hands it to a worker on the caller's thread. For 20,000 trivial
  jobs the scheduler thread woke about 50 times instead of 2,000, and their handlers were
  done in 0.66 s instead of 0.99 s (`benchmarks/quick_throughput.py`, Python 3.11).
  `benchmarks/probe_run_now.py` measured 203 → 122 µs from the call to the handler, p50.
- *Punctual timers.* The scheduler thread asks Linux for a timer slack of 1 ns: a timed
  wait no longer ends up to 50 µs late. Delay latency from the due instant fell by 25 to
  35 µs at p50 and 45 µs at p90 (interleaved, 400 samples).
- *The store.* SQLite gets up to 64 rows per statement (the driver gives up the GIL for
  each statement, not each row); job rows are value tuples; a new task waits for its commit
  as itself, its row built at the commit; an interval schedule is no longer stored twice
  (310 → 178 B of database file per task); a private database caches 512 KiB of pages, not
  2 MB.
- *Memory.* A task's policies are one tuple shared by the tasks registered alike (75 B less
  per task); a queued `add_task` is a small slotted command.
- *The timing structure* cancels lazily: the key leaves the index, and its entry is
  dropped when it reaches the front or swept out once stale entries outnumber live ones.

**Throughput** (`benchmarks/quick_throughput.py`, `benchmarks/profile_e2e.py`): dispatch
alone now reaches about 30,000 jobs/s on Python 3.11 to 3.13 (handlers done); the figure
with records kept is lower because the store's writer finishes after the handlers. It
spends about 13 µs per run-once job: 8 µs to insert the task's row (added before it ran),
4 µs for the job's row and 1.6 µs to delete the task's row (a throwaway script timing
`Store.flush` on 20,000 rows each), part of it holding the GIL that the workers want. On
Python 3.10, `add_task` alone costs twice as much as on 3.11 (no specializing
interpreter), and it is the slowest. Python 3.12's figure varied most within the suite
(rounds of 13,004 to 16,857 jobs/s); the same measurement run alone right after gave
21,935 to 22,187 (`_e2e.throughput`, three runs). The peers' run met twice APScheduler's
rate (2.11\u00d7), though APScheduler measured 11,304 jobs/s there, against 14,029 in the run
before. What would reach 20,000 jobs/s on every Python, 3.10 included: not writing the row
of a run-once task whose run ends before the row would be read (its job's row says all
there is), or a writer that holds the GIL less.

**Timing structure**: `pop_due`, `peek` and now `cancel` stay within 2\u00d7 from 10^3 to 10^6
entries. `schedule` and `reschedule` cost about 5 times more at 10^6. A plain dict insert of
a new key, measured beside them, grows 3 to 8 times over the same range: memory latency,
which any keyed structure pays. A sorted list's insertion touches a few more cache lines
than that (its search compares entries that are scattered in memory). A hierarchical timing
wheel would insert in constant time, but cannot grow less than the dict insert it contains.

"""


METHOD = """## Method

The suite is `pytest-benchmark` based, one file per concept, with sizes in decades and the
baseline of each group in the same run:

- **Timing structure** (`bench_timing.py`): `Timeline` against `heapq` with lazy deletion and
  a linear scan, at 10^2 to 10^6 entries (the scan's `peek` and `pop_due` to 10^4; its other
  operations are one dict operation, the floor of a keyed structure). Every round performs 100
  operations of one kind on random keys; an untimed setup and teardown restore the structure,
  so every round sees the same entries.
- **State machines** (`bench_transitions.py`): every legal change as the scheduler makes it
  (`StateMachine.next_state`), against a `transitions` trigger; one run's four changes against
  a `transitions.Machine` per job and `add_model` per job.
- **Invocation** (`bench_invocation.py`): signature inspection (cold and cached), a run's
  own arguments, and sync and async handler start.
- **Store** (`bench_store.py`): task inserts, job record writes batched through `flush`, and
  the `get_*` reads, at 10^3 to 10^5 rows, against the `sqlite3` driver alone.
- **End to end** (`bench_e2e.py`, and `peers.py` for the peers): quiv against a bare loop
  (`heapq` + `threading.Condition` + `ThreadPoolExecutor`, 60 lines in `_bare.py`).
    - *Delay latency*: 200 run-once tasks added with a 0.3 s delay, due 20 to 30 ms apart
      (randomly), with 0, 10^3 and 10^4 idle tasks registered (10^5 with `--full`).
      *From due* is from the due instant (the call's return plus the delay) to the
      handler's entry; *from call* counts from the call's start, so it adds the API's cost.
    - *Run-now latency*: 200 run-now requests on one task, 5 to 15 ms apart; *from call* is
      from the request to the handler's entry, *from due* from the request's return. The
      peers hand the request over and return; quiv, when its scheduler thread sleeps,
      hands the job to a worker before it returns, so its *from due* leaves that work out:
      *from call* is the fair comparison.
    - *Throughput*: 20,000 trivial run-once jobs through a pool of 10, every job record
      written and queryable. *`add_task`*: interval tasks added to a started scheduler.
    - *Memory and idle CPU*: a fresh process per measurement; bytes per task are the RSS and
      database-file growth from 0 to N tasks, divided by N; idle CPU is the process's CPU
      time over a window of idle seconds.

These end-to-end figures are distributions and rates, not the time of one call: they are
kept in each entry's `extra_info` in the same pytest-benchmark JSON (the entry's own timing is
only how long the measurement took). Every latency is read on `time.monotonic`, the clock
the schedulers keep their deadlines on.
"""


def render() -> None:
    suites = load_suites()
    peers = load_peers()
    if not suites:
        sys.exit("no results in benchmarks/results: run `nox -s bench` first")
    reference = REFERENCE_PYTHON if REFERENCE_PYTHON in suites else next(iter(suites))
    timing, growth = section_timing(suites, reference)
    parts = [HEADER, section_machine(suites, peers)]
    peers_text = section_peers(peers)[0] if peers else ""
    parts.append(section_targets(suites, peers, reference, growth))
    if peers_text:
        parts.append(peers_text)
    else:
        parts.append("## quiv against its peers\n\nNo peers run yet: `nox -s bench_peers`.\n")
    processes = load_processes()
    if processes:
        parts.append(section_processes(processes))
    soak = load_soak()
    if soak:
        parts.append(section_soak(*soak))
    parts += [section_e2e(suites), timing, section_micro(suites, reference), PROFILE, METHOD]
    missing = [v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if v not in suites]
    if missing:
        parts.insert(
            2,
            f'!!! warning "Missing"\n    No results for Python {", ".join(missing)}: their'
            " `nox -s bench` run was skipped (interpreter not found) or not made.\n",
        )
    with open(PAGE, "w") as page:
        page.write("\n".join(parts).rstrip() + "\n")
    print(f"{PAGE} written, plots in {PLOTS}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compact", help="keep what the report needs of a pytest-benchmark JSON")
    c.add_argument("raw")
    c.add_argument("out")
    sub.add_parser("render", help="write docs/performance.md and its plots")
    options = parser.parse_args(argv)
    if options.command == "compact":
        compact(options.raw, options.out)
    else:
        render()


if __name__ == "__main__":
    main()
