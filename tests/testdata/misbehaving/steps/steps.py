"""Steps for the misbehaving-steps tests. Each records its pid (and its children's) under
the project's pids/ folder, so a test can check that no process outlives the apply."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _note_pid(kind: str, pid: int) -> None:
    folder = Path(os.environ.get("MISBEHAVING_PIDS", "pids"))
    folder.mkdir(exist_ok=True)
    (folder / f"{kind}-{pid}").write_text(str(pid))


def fast(**_inputs) -> int:
    _note_pid("fast", os.getpid())
    return 1


def slow(seconds: float) -> str:
    _note_pid("slow", os.getpid())
    time.sleep(seconds)
    return "slow finished"


def misbehave(after: int, mode: str) -> int:
    _note_pid("bad", os.getpid())
    if mode == "exit":
        os._exit(7)
    if mode == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode in ("hang", "hang_with_child"):
        if mode == "hang_with_child":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            _note_pid("child", child.pid)
        print("started", flush=True)
        time.sleep(600)
    return after + 1
