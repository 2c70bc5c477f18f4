"""Addresses name every node of a plan, as Terraform's do — parsed and matched only here.

``pipeline.training.step.train`` is a step; ``resource.local_directory.data`` is a
resource (``local_directory.data`` is Terraform's short form of it). They are plain
strings everywhere (state keys, plan JSON, CLI flags); -target, -exclude, -replace,
the state commands and lineage all parse and match them through this module, so a
short form or a prefix means the same thing to every command.
"""

from __future__ import annotations

from dataclasses import dataclass

HINT = "use pipeline.NAME.step.STEP, pipeline.NAME, resource.TYPE.NAME or TYPE.NAME"


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


@dataclass(frozen=True, order=True)
class PipelineAddr:
    """A whole pipeline: as a selector it names every step in it."""

    pipeline: str

    def __str__(self) -> str:
        return f"pipeline.{self.pipeline}"


@dataclass(frozen=True)
class OutputAddr:
    """One output of a step (``pipeline.P.step.S.outputs.O``), as lineage takes it."""

    step: StepAddr
    output: str

    def __str__(self) -> str:
        return f"{self.step}.outputs.{self.output}"


Addr = StepAddr | ResourceAddr


def parse(text: str) -> Addr:
    """One step or resource, as given on the command line; raises ValueError with a hint."""
    found = parse_selector(text)
    if isinstance(found, PipelineAddr):
        raise ValueError(f"{text!r} names a whole pipeline; give one step (pipeline.NAME.step.STEP) or a resource")
    return found


def parse_selector(text: str) -> Addr | PipelineAddr:
    """What -target, -exclude and -replace accept: a step, a resource or a whole pipeline."""
    parts = text.strip().split(".")
    if not all(parts):
        raise ValueError(f"{text!r} is not an address; {HINT}")
    if len(parts) == 4 and parts[0] == "pipeline" and parts[2] == "step":
        return StepAddr(parts[1], parts[3])
    if len(parts) == 2 and parts[0] == "pipeline":
        return PipelineAddr(parts[1])
    if len(parts) == 3 and parts[0] == "resource":
        return ResourceAddr(parts[1], parts[2])
    if len(parts) == 2 and "_" in parts[0]:  # Terraform's short form TYPE.NAME
        return ResourceAddr(parts[0], parts[1])
    raise ValueError(f"{text!r} is not an address; {HINT}")


def parse_output(text: str) -> OutputAddr:
    """``pipeline.P.step.S`` (its output named "output") or ``pipeline.P.step.S.outputs.O``."""
    parts = text.strip().split(".")
    if len(parts) == 6 and parts[4] == "outputs" and parts[5]:
        step = parse(".".join(parts[:4]))
        output = parts[5]
    else:
        step, output = parse(text), "output"
    if not isinstance(step, StepAddr):
        raise ValueError(f"{text!r} is not a step output; use pipeline.P.step.S[.outputs.O]")
    return OutputAddr(step, output)


def normalize(text: str) -> str:
    """The canonical spelling of a selector (``local_directory.data`` -> ``resource.local_directory.data``).
    Text that is no address at all is returned as it is (it then matches nothing but itself)."""
    try:
        return str(parse_selector(text))
    except ValueError:
        return text


def matches(addr: str, selector: str) -> bool:
    """True when ``selector`` names ``addr``, or a pipeline that contains it.

    Whole address segments only: ``resource.local_directory.data`` never matches
    ``resource.local_directory.data2``; ``pipeline.training`` matches every step of
    that pipeline, as -target of a module does in Terraform.
    """
    wanted = normalize(selector)
    return addr == wanted or (wanted.startswith("pipeline.") and wanted.count(".") == 1 and addr.startswith(wanted + "."))


def matches_any(addr: str, selectors: list[str]) -> bool:
    return any(matches(addr, s) for s in selectors)
