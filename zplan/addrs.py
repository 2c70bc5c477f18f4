"""Addresses name every node of a plan, as Terraform's do — parsed and matched only here.

``pipeline.training.step.train`` is a step; ``resource.local_directory.data`` is a
resource (``local_directory.data`` is Terraform's short form of it). Instances made by
``count`` / ``for_each`` carry their key (``resource.local_directory.d[0]``,
``pipeline.p.step.train["c=0.5"]``) and whatever a module declares is prefixed by the
module instance (``module.region["eu"].pipeline.p.step.s``). They are plain strings
everywhere (state keys, plan JSON, CLI flags); -target, -exclude, -replace, the state
commands, moved blocks and lineage all parse and match them through this module, so a
short form or a prefix means the same thing to every command.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

HINT = "use pipeline.NAME.step.STEP, pipeline.NAME, resource.TYPE.NAME, TYPE.NAME or module.NAME (keys as NAME[0] or NAME[\"key\"])"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_QUOTED_OUTPUT = re.compile(r'(.+)\.(?:outs|outputs)\["([^"\\]+)"\]')  # step.S.outs["model.txt"]


def instance_key(key: str | int | None) -> str:
    """The suffix an instance key adds to a name: ``[0]`` or ``["c=0.5"]`` (nothing for None)."""
    if key is None:
        return ""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"[{key}]"
    key = str(key)
    if key.isprintable() and '"' not in key and "\\" not in key:  # what JSON would write as it is (no escapes)
        return f'["{key}"]'
    return f"[{json.dumps(key, ensure_ascii=False)}]"


def prefixed(module: str, text: str) -> str:
    """``text`` (an address) inside the module at path ``module`` ("" for the root)."""
    return f"{module}.{text}" if module else text


# No order=True: addresses are sorted as their text (str), never as records; each ordering
# method is compiled when the class is made, which every command pays at start-up.
@dataclass(frozen=True)
class StepAddr:
    """One step instance: ``pipeline.P.step.S`` (inside a module: ``module.M.pipeline.P.step.S``)."""

    pipeline: str
    step: str  # with its instance key: train["c=0.5"]
    module: str = ""  # module instance path: module.a.module.b ("" for the root)

    def __str__(self) -> str:
        return prefixed(self.module, f"pipeline.{self.pipeline}.step.{self.step}")


@dataclass(frozen=True)
class ResourceAddr:
    """One resource instance: ``resource.TYPE.NAME`` (inside a module: ``module.M.resource.TYPE.NAME``)."""

    type: str
    name: str  # with its instance key: d[0]
    module: str = ""

    def __str__(self) -> str:
        return prefixed(self.module, f"resource.{self.type}.{self.name}")


@dataclass(frozen=True)
class PipelineAddr:
    """A whole pipeline: as a selector it names every step in it."""

    pipeline: str
    module: str = ""

    def __str__(self) -> str:
        return prefixed(self.module, f"pipeline.{self.pipeline}")


@dataclass(frozen=True)
class ModuleAddr:
    """A module call or one of its instances: as a selector it names everything inside."""

    path: str  # module.a or module.a["x"].module.b

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class OutputAddr:
    """One output of a step (``pipeline.P.step.S.outputs.O``), as lineage takes it."""

    step: StepAddr
    output: str

    def __str__(self) -> str:
        return f"{self.step}.outputs.{self.output}"


Addr = StepAddr | ResourceAddr
Selector = StepAddr | ResourceAddr | PipelineAddr | ModuleAddr


def _segments(text: str) -> list[tuple[str, str]]:
    """``module.a["x"].pipeline.p`` -> [("module", ""), ("a", '["x"]'), ("pipeline", ""), ("p", "")]."""
    out: list[tuple[str, str]] = []
    pos, text = 0, text.strip()
    while True:
        match = _NAME.match(text, pos)
        if match is None:
            raise ValueError(f"{text!r} is not an address; {HINT}")
        name, pos = match.group(), match.end()
        key = ""
        if pos < len(text) and text[pos] == "[":
            key, pos = _key(text, pos)
        out.append((name, key))
        if pos == len(text):
            return out
        if text[pos] != ".":
            raise ValueError(f"{text!r} is not an address; {HINT}")
        pos += 1


def _key(text: str, pos: int) -> tuple[str, int]:
    """An instance key starting at ``text[pos] == "["``, in its canonical spelling, and where it ends."""
    end = text.find("]", pos)
    if text.startswith('["', pos):
        try:
            value, end = json.JSONDecoder().raw_decode(text, pos + 1)
        except ValueError:
            raise ValueError(f"{text!r}: unterminated key; write NAME[\"key\"]") from None
        if not isinstance(value, str) or not text.startswith("]", end):
            raise ValueError(f"{text!r}: a key is a number or a quoted string")
        return instance_key(value), end + 1
    inner = text[pos + 1 : end] if end > pos else ""
    if not inner.isdigit():
        raise ValueError(f"{text!r}: a key is a number or a quoted string, as NAME[0] or NAME[\"key\"]")
    return instance_key(int(inner)), end + 1


def parse(text: str) -> Addr:
    """One step or resource, as given on the command line; raises ValueError with a hint."""
    found = parse_selector(text)
    if isinstance(found, PipelineAddr):
        raise ValueError(f"{text!r} names a whole pipeline; give one step (pipeline.NAME.step.STEP) or a resource")
    if isinstance(found, ModuleAddr):
        raise ValueError(f"{text!r} names a whole module; give one step or resource inside it")
    return found


def parse_selector(text: str) -> Selector:
    """What -target, -exclude and -replace accept: a step, a resource, a pipeline or a module."""
    segments = _segments(text)
    module = []
    while len(segments) >= 2 and segments[0] == ("module", ""):
        module.append(f"module.{segments[1][0]}{segments[1][1]}")
        segments = segments[2:]
    prefix = ".".join(module)
    names = [name for name, _ in segments]
    keys = [key for _, key in segments]
    if not segments and prefix:
        return ModuleAddr(prefix)
    if any(keys[:-1]):
        raise ValueError(f"{text!r}: only a step, a resource or a module takes an instance key")
    if len(names) == 4 and names[0] == "pipeline" and names[2] == "step":
        return StepAddr(names[1], names[3] + keys[3], prefix)
    if len(names) == 2 and names[0] == "pipeline" and not keys[1]:
        return PipelineAddr(names[1], prefix)
    if len(names) == 3 and names[0] == "resource":
        return ResourceAddr(names[1], names[2] + keys[2], prefix)
    if len(names) == 2 and "_" in names[0]:  # Terraform's short form TYPE.NAME
        return ResourceAddr(names[0], names[1] + keys[1], prefix)
    raise ValueError(f"{text!r} is not an address; {HINT}")


def parse_output(text: str) -> OutputAddr:
    """``pipeline.P.step.S`` (its output named "output") or ``pipeline.P.step.S.outputs.O``; a script step's out,
    named by its path, as ``.outputs.model.txt`` or as HCL reads it, ``.outs["data/features"]``."""
    quoted = _QUOTED_OUTPUT.fullmatch(text.strip())
    head, sep, output = (quoted.group(1), ".outputs.", quoted.group(2)) if quoted else text.strip().rpartition(".outputs.")
    if sep and (_NAME.fullmatch(output) or quoted or output and not set(output) & set('[]"')):
        step = parse(head)
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
    """True when ``selector`` names ``addr``, one of its instances, or a pipeline or module holding it.

    Whole address segments only: ``resource.local_directory.data`` never matches
    ``resource.local_directory.data2``; ``pipeline.training`` matches every step of
    that pipeline and ``module.m`` everything in every instance of that module, as
    -target of a module does in Terraform; ``pipeline.p.step.train`` matches every
    instance ``pipeline.p.step.train[...]`` of a fanned-out step.
    """
    wanted = normalize(selector)
    if addr == wanted:
        return True
    if not addr.startswith(wanted) or wanted.endswith("]") and not addr.startswith(wanted + "."):
        return False
    rest = addr[len(wanted) :]
    if rest.startswith("["):  # an instance of what the selector names (or something inside it)
        return True
    return rest.startswith(".") and _is_container(wanted)


def _is_container(selector: str) -> bool:
    try:
        return isinstance(parse_selector(selector), (PipelineAddr, ModuleAddr))
    except ValueError:
        return False


def instances_of(selector: str, addresses) -> list[str]:
    """The ``addresses`` that are instances of (or inside) what ``selector`` names, but not itself:
    ``pipeline.p.step.train`` -> every ``pipeline.p.step.train[...]``."""
    wanted = normalize(selector)
    return sorted(a for a in addresses if a != wanted and matches(a, wanted))


def give_one(selector: str, found: list[str], what: str = "instances") -> tuple[str, str]:
    """The error (summary, detail) for a command that reads one step or resource, given a selector naming several."""
    return f"{selector} names {len(found)} {what}: give one", "\n".join(found[:20]) + ("\n..." if len(found) > 20 else "")


def matches_any(addr: str, selectors: list[str]) -> bool:
    return any(matches(addr, s) for s in selectors)


def base_of(addr: str) -> str:
    """The address without its last instance key: ``resource.t.d[0]`` -> ``resource.t.d``."""
    return addr[: addr.rindex("[")] if addr.endswith("]") else addr


def short_name(address: str) -> str:
    """A step's or resource's own name, with its key (``pipeline.p.step.train["c=0.5"]`` -> ``train["c=0.5"]``)."""
    try:
        found = parse(address)
    except ValueError:
        return address.rsplit(".", 1)[-1]
    return found.step if isinstance(found, StepAddr) else found.name


def instance_name(address: str) -> str:
    """The name a provider is given for a resource instance: its own, with its key, after its module
    path inside a module (``module.serving["dev"].server``), so the instances of a module differ."""
    try:
        found = parse(address)
    except ValueError:
        return short_name(address)
    return f"{found.module}.{found.name}" if isinstance(found, ResourceAddr) and found.module else short_name(address)


def is_resource(address: str) -> bool:
    """Whether a node address names a resource (instance), inside a module or not."""
    if address.startswith("resource."):
        return True
    if not address.startswith("module."):
        return False
    try:
        return isinstance(parse(address), ResourceAddr)
    except ValueError:
        return False


def is_step(address: str) -> bool:
    """Whether a node address names a step (instance), inside a module or not."""
    if address.startswith("pipeline."):
        return True
    if not address.startswith("module."):
        return False
    try:
        return isinstance(parse(address), StepAddr)
    except ValueError:
        return False


def moved_to(addr: str, old: str, new: str) -> str | None:
    """Where a ``moved { from = old, to = new }`` block takes ``addr`` (None: it does not apply).
    A block, module or pipeline moves with everything in it: its instances and its contents."""
    if addr == old:
        return new
    if addr.startswith(old) and addr[len(old) : len(old) + 1] in (".", "["):
        return new + addr[len(old) :]
    return None
