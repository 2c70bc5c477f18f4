"""Measuring: whole processes (wall, CPU, peak memory) and in-process read/hash throughput.

Each command runs as a fresh process, so every figure includes Python's start.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class Run:
    wall: float
    cpu: float  # user + system seconds of the process and its reaped children
    rss_mb: float
    code: int
    output: str
    timed_out: bool = False


class BenchError(Exception):
    """A tool did something other than what the benchmark expects (an error, a wrong plan)."""


# A small launcher process (python -S: no site, a few MB) starts each command.
# Peak RSS: a child forked from the benchmark itself would inherit the
# benchmark's own high-water mark (numpy, pandas), so the fork happens here.
# CPU: the launcher becomes a child subreaper, so processes the command leaves
# to be reaped by someone else (zplan's forkserver and its step workers) are
# reaped here and their CPU counts too. A time limit stops the command's whole
# process group (the command and what it started).
_LAUNCHER = """
import ctypes, json, os, signal, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
result, limit, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
timed_out = []
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.setpgid(0, 0)
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
def stop(signum, frame):
    timed_out.append(True)
    os.killpg(pid, signal.SIGKILL)
if limit > 0:
    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, limit)
_, status, own = os.wait4(pid, 0)
wall = time.perf_counter() - t0
signal.setitimer(signal.ITIMER_REAL, 0)
deadline = time.monotonic() + 10  # orphans (a forkserver) exit once the command is gone
while time.monotonic() < deadline:
    try:
        if os.waitpid(-1, os.WNOHANG) == (0, 0):
            time.sleep(0.01)
    except ChildProcessError:
        break
every = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
with open(result, "w") as f:
    json.dump({"wall": wall, "code": os.waitstatus_to_exitcode(status), "rss_kb": own.ru_maxrss,
               "cpu": every.ru_utime + every.ru_stime, "timed_out": bool(timed_out)}, f)
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, limit: float = 0) -> Run:
    """Run ``cmd`` to completion (or until ``limit`` seconds, when given) and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp, "result.json")
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, str(result), str(limit), *cmd]
        subprocess.run(launcher, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=False)
        out.seek(0)
        text = out.read().decode(errors="replace")
        if not result.exists():
            raise BenchError(f"could not run {cmd[0]}: {text.strip()[-500:]}")
        r = json.loads(result.read_text())
    return Run(r["wall"], r["cpu"], r["rss_kb"] / 1024, r["code"], text, r["timed_out"])


def expect(result: Run, codes: tuple[int, ...], what: str, contains: str | None = None) -> Run:
    ok = result.code in codes and (contains is None or contains in result.output)
    if not ok:
        tail = "\n".join(result.output.strip().splitlines()[-15:])
        wanted = f"exit {' or '.join(map(str, codes))}" + (f" and {contains!r} in the output" if contains else "")
        raise BenchError(f"{what}: expected {wanted}, got exit {result.code}\n{tail}")
    return result


@dataclass
class Sample:
    """Repeated runs of one operation."""

    runs: list[Run] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    def add(self, r: Run) -> Run:
        self.runs.append(r)
        return r

    @property
    def walls(self) -> list[float]:
        return [r.wall for r in self.runs]

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def rss_mb(self) -> float:
        return max(r.rss_mb for r in self.runs)

    def span(self) -> str:
        if len(self.runs) == 1:
            return f"{self.median:.3f}"
        return f"{self.median:.3f} ({min(self.walls):.3f}-{max(self.walls):.3f})"


def repeat(times: int, before: Callable[[int], None], once: Callable[[int], Run]) -> Sample:
    """``before(i)`` prepares run i (untimed), ``once(i)`` is the timed command."""
    sample = Sample()
    for i in range(times):
        before(i)
        sample.add(once(i))
    return sample


# -- throughput -----------------------------------------------------------------------------------------

CHUNK = 4 * 1024 * 1024  # the same chunk size zplan's hash_file reads with


def files_under(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_file():
            out.append(p)
        else:
            for dirpath, dirnames, names in os.walk(p):
                dirnames.sort()
                out += [Path(dirpath, n) for n in sorted(names)]
    return out


def raw_read_seconds(paths: list[Path]) -> float:
    """Read every byte the way a hasher would, without hashing: the ceiling for hashing."""
    buf = bytearray(CHUNK)
    t0 = time.perf_counter()
    for path in files_under(paths):
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass
    return time.perf_counter() - t0


def zplan_hash_seconds(paths: list[Path]) -> float:
    """zplan's own first-time fingerprinting (an empty stat cache, so every file is read)."""
    from zplan.hashing import StatCache

    cache = StatCache(None)
    t0 = time.perf_counter()
    for p in paths:
        cache.tree_hash(p)
    return time.perf_counter() - t0


def throughput(paths: list[Path], nbytes: int, rounds: int) -> dict[str, float]:
    """Median GB/s of raw reads and of zplan's hashing, interleaved so both see the same page cache."""
    raw_read_seconds(paths)  # warm the page cache first: dropping it needs root and stalls other users
    raw, hashed = [], []
    for _ in range(max(rounds, 3)):
        raw.append(raw_read_seconds(paths))
        hashed.append(zplan_hash_seconds(paths))
    gb = nbytes / 1e9
    return {"raw_gbps": gb / statistics.median(raw), "hash_gbps": gb / statistics.median(hashed)}


def compute_seconds(folder: Path, mark: str) -> tuple[float, int]:
    """Sum of the step-reported compute times in every log under ``folder``, and how many."""
    total, count = 0.0, 0
    if not folder.exists():
        return total, count
    for log in folder.rglob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(mark + " "):
                total += float(line.split()[1])
                count += 1
    return total, count


def compute_in_text(text: str, mark: str) -> tuple[float, int]:
    values = [float(line.split()[1]) for line in text.splitlines() if line.startswith(mark + " ")]
    return sum(values), len(values)
