"""Addresses name every node of a plan, as Terraform's do.

``pipeline.training.step.train`` is a step; ``resource.local_directory.data`` is a
resource. They are plain strings everywhere (state keys, plan JSON, CLI flags);
this module only builds and parses them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class StepAddr:
    pipeline: str
    step: str

    def __str__(self) -> str:
        return f"pipeline.{self.pipeline}.step.{self.step}"


@dataclass(frozen=True, order=True)
class ResourceAddr:
    type: str
    name: str

    def __str__(self) -> str:
        return f"resource.{self.type}.{self.name}"


Addr = StepAddr | ResourceAddr


def parse(text: str) -> Addr:
    """Parse an address as given on the command line; raises ValueError with a hint."""
    parts = text.split(".")
    if len(parts) == 4 and parts[0] == "pipeline" and parts[2] == "step":
        return StepAddr(parts[1], parts[3])
    if len(parts) == 3 and parts[0] == "resource":
        return ResourceAddr(parts[1], parts[2])
    if len(parts) == 2 and "_" in parts[0]:  # Terraform's short form TYPE.NAME
        return ResourceAddr(parts[0], parts[1])
    raise ValueError(
        f"{text!r} is not an address; use pipeline.NAME.step.STEP, resource.TYPE.NAME or TYPE.NAME"
    )


def matches(addr: str, pattern: str) -> bool:
    """True when ``pattern`` names ``addr`` or a module/pipeline that contains it.

    ``pipeline.training`` matches every step of that pipeline, as -target of a
    module does in Terraform.
    """
    return addr == pattern or addr.startswith(pattern + ".")
