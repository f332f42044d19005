"""What the results were measured on: machine, interpreter build, SQLite. Standard library,
plus psutil when it is there."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import sysconfig
from typing import Any


def python_build() -> str:
    """How this interpreter was built, as far as it says (for cross-version comparisons)."""
    args = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    flags = [flag for flag in ("--enable-optimizations", "--with-lto") if flag in args]
    if flags:
        return "built with " + " ".join(flags)
    if "/usr/share/python-wheels" in args:
        # Debian's packages are built with PGO and LTO by the packaging rules, which do not
        # show in CONFIG_ARGS.
        return "Debian package: PGO + LTO build"
    if ".pyenv" in sys.base_prefix:
        return "pyenv build: no PGO, no LTO"
    return "build flags unknown"


def describe() -> dict[str, Any]:
    """The facts a reader needs to weigh the figures."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_build": python_build(),
        "python_compiler": platform.python_compiler(),
        "sqlite": sqlite3.sqlite_version,
    }
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import psutil

        info["memory_bytes"] = psutil.virtual_memory().total
    except ImportError:
        pass
    return info
