"""Wall time, peak RSS and CPU time of one command run in its own process, for the benchmark scripts."""

from __future__ import annotations

import os
import subprocess
import time
from typing import NamedTuple


class Cost(NamedTuple):
    wall: float  # s
    rss: float  # MB, peak resident set size
    cpu: float  # s, user + system time of the process (and its waited-for children)


def timed(cmd: list[str], env: dict[str, str]) -> Cost:
    """Run a command; return its wall time, peak RSS and CPU time (os.wait4: that process alone).

    On a shared machine the CPU time is the steadier measure: it does not count the time the
    process waited for a core.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return Cost(wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for the benchmark's output."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
