"""Looking at processes through /proc: what a command started, and whether any of it is left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.helpers import cli_env


def start_zplan(cwd: Path, *args: str, **env: str) -> subprocess.Popen:
    """``zplan ARGS`` in the background (its own session, as a terminal's job would be)."""
    return subprocess.Popen(
        [sys.executable, "-m", "zplan.cli", *args], cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(**env), start_new_session=True,
    )


def _stat(pid: int) -> list[str] | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return data[data.rindex(")") + 2 :].split()  # [state, ppid, pgrp, ...]


def alive(pid: int) -> bool:
    """Running (a zombie has finished: it only waits to be reaped)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, and every member of a process group one of them leads."""
    parents: dict[int, int] = {}
    groups: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := _stat(int(name))) and fields[0] not in ("Z", "X"):
            parents[int(name)], groups[int(name)] = int(fields[1]), int(fields[2])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {p for p, parent in parents.items() if parent in frontier and p not in found}
        found |= children
        frontier = children
    return found | {p for p, g in groups.items() if g in found}


def marked(name: str, value: str) -> set[int]:
    """Live processes whose environment holds ``name=value`` (inherited by everything a command starts)."""
    wanted = f"{name}={value}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and alive(int(entry)):
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if wanted in environ.split(b"\0"):
                found.add(int(entry))
    return found


def left_alive(pids: set[int], seconds: float = 0.0) -> set[int]:
    """Those of ``pids`` still running (after waiting up to ``seconds`` for them to go)."""
    deadline = time.monotonic() + seconds
    while True:
        left = {p for p in pids if alive(p)}
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def pids_noted(project_root: Path) -> set[int]:
    """Pids the test steps wrote under pids/ (steps and the children they started)."""
    folder = project_root / "pids"
    return {int(p.read_text()) for p in folder.iterdir()} if folder.is_dir() else set()


def noted(project_root: Path) -> set[str]:
    """Which test steps (and "child") have started."""
    folder = project_root / "pids"
    return {p.name.split("-")[0] for p in folder.iterdir()} if folder.is_dir() else set()


def wait_for(condition, seconds: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
