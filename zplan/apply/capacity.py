"""What this machine has, against what a step asks for in ``resources``: the local
orchestrator runs the step anyway, but says so instead of dropping the request."""

from __future__ import annotations

import os
import shutil


def shortfall(resources) -> str | None:
    """A sentence naming what this machine lacks, or None when it has enough."""
    if resources is None or resources.empty:
        return None
    missing = []
    cpus = os.cpu_count() or 1
    if resources.cpu > cpus:
        missing.append(f"cpu = {resources.cpu:g} (this machine has {cpus})")
    memory = _memory_bytes()
    if resources.memory and memory and resources.memory > memory:
        missing.append(f"memory = {resources.memory_text} (this machine has {memory / 2**30:.1f} GiB)")
    gpus = _gpu_count()
    if resources.gpu > gpus:
        missing.append(f"gpu = {resources.gpu} (this machine has {gpus})")
    return ", ".join(missing) or None


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _gpu_count() -> int:
    """NVIDIA devices the driver exposes (no driver: none)."""
    if not shutil.which("nvidia-smi") and not os.path.exists("/dev/nvidia0"):
        return 0
    return sum(1 for name in os.listdir("/dev") if name.startswith("nvidia") and name[6:].isdigit())
