"""A step's ``resources = { cpu = 2, memory = "4GiB", gpu = 1, gpu_type = "NVIDIA_TESLA_T4" }``:
what it needs to run, for the orchestrators that place steps (Dask, Kubeflow/Vertex) and for
the local one to say when this machine falls short."""

from __future__ import annotations

import re
from dataclasses import dataclass

KEYS = ("cpu", "memory", "gpu", "gpu_type")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


@dataclass(frozen=True)
class StepResources:
    cpu: float = 0.0
    memory: int = 0  # bytes
    memory_text: str = ""  # as written ("4GiB"), for specs that take Kubernetes quantities
    gpu: int = 0
    gpu_type: str = ""  # an accelerator type, e.g. NVIDIA_TESLA_T4 (Vertex) / nvidia.com/gpu (Kubeflow)

    @property
    def empty(self) -> bool:
        return not (self.cpu or self.memory or self.gpu)

    def describe(self) -> str:
        parts = [f"cpu = {self.cpu:g}" if self.cpu else "", f"memory = {self.memory_text}" if self.memory else "",
                 f"gpu = {self.gpu}" if self.gpu else ""]
        return ", ".join(p for p in parts if p)


def parse_size(text: str) -> int:
    """"4GiB" -> 4294967296; "512M" -> 512000000; a plain number is bytes."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f'{text!r} is not a size; use a form like "512MiB", "4GiB" or "2G"')
    unit = (match.group(2) or "").lower().rstrip("b")
    return int(float(match.group(1)) * _UNITS[unit])


def parse_resources(value: object) -> StepResources:
    """A ValueError says what is wrong with the map as written."""
    if not isinstance(value, dict):
        raise ValueError("resources must be a map, e.g. { cpu = 2, memory = \"4GiB\", gpu = 1 }")
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} in resources; known: {', '.join(KEYS)}")
    cpu, gpu, memory = value.get("cpu", 0), value.get("gpu", 0), value.get("memory")
    if isinstance(cpu, bool) or not isinstance(cpu, (int, float)) or cpu < 0:
        raise ValueError(f"resources.cpu must be a positive number, got {cpu!r}")
    if isinstance(gpu, bool) or not isinstance(gpu, (int, float)) or gpu < 0 or gpu != int(gpu):
        raise ValueError(f"resources.gpu must be a whole number, got {gpu!r}")
    size = 0
    if memory is not None:
        try:
            size = parse_size(str(memory)) if isinstance(memory, (str, int)) and not isinstance(memory, bool) else -1
        except ValueError:
            size = -1
        if size <= 0:
            raise ValueError(f'resources.memory must be a size such as "4GiB", got {memory!r}')
    gpu_type = value.get("gpu_type", "")
    if not isinstance(gpu_type, str):
        raise ValueError(f"resources.gpu_type must be a string, got {gpu_type!r}")
    return StepResources(float(cpu), size, str(memory) if memory is not None else "", int(gpu), gpu_type)
