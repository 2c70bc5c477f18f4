"""The words of a step's rerun reasons: which definitions, libraries and params changed.

Param keys of a params file (a script step's ``params = ["train.n_est"]``) are kept as
``params.yaml:train.n_est`` and read ``params.yaml: train.n_est 50 -> 100``.
"""

from __future__ import annotations

from typing import Any

from zplan.addrs import short_name
from zplan.config.values import UNKNOWN
from zplan.hashing import canonical_json
from zplan.plan import model as m
from zplan.plan.code_hash import part_label
from zplan.plan.user_materializers import DECIDES
from zplan.secrets import SHOWN_SENSITIVE, hide_digests, is_digest, shown_for_people
from zplan.state.model import CacheEntry


def reuse_message(entry: CacheEntry) -> str:
    run = f"run {entry.run}" if entry.run is not None else "an earlier run"
    return f"cached from {run} instead if those outputs come out unchanged"


def code_message(before: dict[str, str], after: dict[str, str], most: int = 3) -> str:
    """`code changed (helpers.h in pkg/helpers.py)`: the definitions whose digest differs, added or removed."""
    changed = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    if not changed:
        return "code changed"
    shown = [part_label(k) + ("" if k in before else ", new") + ("" if k in after else ", no longer used") for k in changed[:most]]
    more = f", and {len(changed) - most} more" if len(changed) > most else ""
    return f"code changed ({'; '.join(shown)}{more})"


def library_reasons(before: dict[str, str], after: dict[str, str], required: set[str] | None = None) -> list[m.Reason]:
    """`scikit-learn 1.5.2 -> 1.6.1`, for each imported library whose installed version differs.
    Only new entries, each required by a library keyed before (``required``: given under the same
    code): a record from before the libraries' own requirements were keyed. A new import, even one
    the code does not change with (``import acme`` at a module's top), is named as any other change."""
    changed = [dist for dist in sorted(set(before) | set(after)) if before.get(dist) != after.get(dist)]
    if required is not None and before and changed and not any(dist in before for dist in changed) and set(changed) <= required:
        return [m.Reason(m.ENV_CHANGED, f"the libraries it imports now key what they require too (zplan upgrade): {', '.join(changed)}")]
    return [m.Reason(m.LIBRARY_CHANGED, f"{dist} {before.get(dist, '(none)')} -> {after.get(dist, '(none)')}") for dist in changed]


def param_reasons(before: dict, after: dict, secrets: list[str], sources: dict[str, str] | None = None) -> list[m.Reason]:
    """One reason per changed param; one read from a params file is named by its key there."""
    reasons = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old == new and (old is _MISSING or canonical_json(old) == canonical_json(new)):  # 1 == 1.0, yet a step gets int or float
            continue
        file, sep, dotted = (sources or {}).get(key, key).partition(":")
        if not sep or not dotted:
            text = f"params.{key}: {_show(old)} -> {_show(new)}"
        elif not file:  # a script's command line
            text = f"{dotted}: {_show_command(old)} -> {_show_command(new)}"
        else:
            text = f"{file}: {dotted} {_show(old)} -> {_show(new)}"
        reasons.append(m.Reason(m.PARAMS_CHANGED, text))
    return reasons


_MISSING = object()


def name_reasons(before: dict, names: dict[str, str], other_reasons: bool) -> list[m.Reason]:
    """A file input now under another name (the step sees its name in the path it gets). A
    record from before names were keyed says so, unless the step reruns for another reason."""
    if "names" not in before:
        upgrade = names and not other_reasons
        return [m.Reason(m.ENV_CHANGED, "input file names now count in the cache key (zplan upgrade)")] if upgrade else []
    was = before["names"]
    return [m.Reason(m.INPUT_CHANGED, f"input {key}: file name {was.get(key, '(none)')} -> {names.get(key, '(none)')}")
            for key in sorted(set(was) | set(names)) if was.get(key) != names.get(key)]


def loader_reasons(before: dict, loaders: dict[str, Any], other_reasons: bool) -> list[m.Reason]:
    """An upstream output the step gets through another materializer, or another version of it, than
    last time: `input model: materializer pandas.arrow 1 -> 2`. A record from before they were keyed
    says so, unless the step reruns for another reason."""
    if "loaders" not in before:
        upgrade = loaders and not other_reasons
        return [m.Reason(m.ENV_CHANGED, "the materializers loading its inputs now count in the cache key (zplan upgrade)")] if upgrade else []
    was = before["loaders"]
    return [m.Reason(m.MATERIALIZER_CHANGED, f"input {key}: materializer {_loader_change(was[key], loaders[key])}")
            for key in sorted(loaders) if key in was and was[key] != loaders[key]]


def loader_code_reasons(before: dict, loaders: dict[str, Any], code: dict[str, str], other_reasons: bool) -> list[m.Reason]:
    """An upstream output the step gets through a materializer of the project's own code whose code
    changed since: `input model: materializer my.pickle code changed`. A record from before that code
    was keyed says so, unless the step reruns for another reason."""
    if "loader_code" not in before:
        upgrade = code and not other_reasons
        return [m.Reason(m.ENV_CHANGED, "the code of the project's materializers loading its inputs now counts in the cache key (zplan upgrade)")] if upgrade else []
    was = before["loader_code"]
    reasons = []
    for key in sorted(loaders):
        for loader in loaders[key] if isinstance(loaders[key], list) else (loaders[key],):
            if loader in was and was[loader] != code.get(loader):  # (gone from code: no longer the project's own)
                reasons.append(m.Reason(m.MATERIALIZER_CHANGED, f"input {key}: materializer {loader.rpartition(' ')[0] or loader} code changed"))
    return reasons


def input_reasons(inputs: dict[str, m.StepInput], before: dict, planned: dict[str, m.StepPlan]) -> list[m.Reason]:
    """Each input that changed since ``before`` (the recorded digests), or will: an upstream step
    ``planned`` to rerun, a value known only after apply; and each input removed."""
    reasons = []
    for name, spec in inputs.items():
        running = [u.step for u in m.upstream_inputs({name: spec}) if (p := planned.get(u.step)) and p.action == m.RUN]
        if running:
            names = ", ".join(short_name(r) for r in running)
            reasons.append(m.Reason(m.UPSTREAM_RERUNS, f"input {name} changes (upstream {names} reruns)"))
        elif spec.digest is None:
            reasons.append(m.Reason(m.KNOWN_AFTER_APPLY, f"input {name} known after apply"))
        elif before.get(name) != spec.digest:
            what = f" ({spec.path})" if isinstance(spec, m.DataInput) else ""
            reasons.append(m.Reason(m.INPUT_CHANGED, f"input {name} changed{what}"))
    return reasons + [m.Reason(m.INPUT_CHANGED, f"input {name} removed") for name in sorted(set(before) - set(inputs))]


def input_loading_reasons(before: dict, loaders: dict[str, Any], index, step_libraries: dict[str, str], other_reasons: bool) -> list[m.Reason]:
    """What changed in how a step's inputs are loaded: the materializers (``index``: the ``Loaders``),
    the project's own materializer code, and the libraries they load with (a library the step's own
    code imports too is named once, with the step's libraries)."""
    reasons = loader_reasons(before, loaders, other_reasons)
    code = index.code(loaders)
    reasons += loader_code_reasons(before, loaders, code, other_reasons or bool(reasons))
    if "loaders" in before:
        was, now = before.get("loader_libraries", {}), index.libraries(loaders)
        if code and "loader_code" not in before:  # what the project's materializers import was not keyed either
            now = {d: v for d, v in now.items() if d in was}
        reasons += library_reasons(*({d: v for d, v in libs.items() if d not in step_libraries} for libs in (was, now)))
    return reasons


def registration_reasons(before: dict, now: dict[str, str], outputs: dict[str, dict]) -> list[m.Reason]:
    """A materializer the project modules imported when the step runs register (``now``: name -> "TYPE
    in FILE"), added, dropped or moved to other types since ``before``: the one storing an output may change.
    `output model: materializer for builtins.list is now lines` when it registers for an output's type
    (its subclasses, or a type its ``can_save`` decides, cannot be told apart without running it)."""
    was = before.get("materializers", {})
    reasons = []
    for name in sorted(set(was) | set(now)):
        if was.get(name) == now.get(name):
            continue
        old, new = _shown(was.get(name)), _shown(now.get(name))
        if old is not None and old == new:  # (its can_save's digest alone differs)
            reasons.append(m.Reason(m.MATERIALIZER_CHANGED, f"materializer {name} for {new}: its can_save changed (which values it stores)"))
            continue
        taken = [(key, out["type"]) for key, out in sorted(outputs.items())
                 if new is not None and out.get("materializer") != name and _registered_for(new, out.get("type", ""))]
        if taken:
            reasons += [m.Reason(m.MATERIALIZER_CHANGED, f"output {key}: materializer for {kind} is now {name}") for key, kind in taken]
        elif new is None:
            reasons.append(m.Reason(m.MATERIALIZER_CHANGED, f"materializer {name} for {old} is no longer imported when it runs"))
        elif old is not None:
            reasons.append(m.Reason(m.MATERIALIZER_CHANGED, f"materializer {name} is now for {new} (was {old})"))
        else:  # new, or registered before a zplan that keyed registrations ran it
            reasons.append(m.Reason(m.MATERIALIZER_CHANGED, f"materializer {name} for {new} is imported when it runs"))
    return reasons


def _shown(registration: str | None) -> str | None:
    """A registration ("list in steps/mats.py") as a reason shows it: without its can_save's digest."""
    return registration.partition(DECIDES)[0] if registration is not None else None


def _registered_for(registration: str, kind: str) -> bool:
    """Whether a registration ("pd.DataFrame in steps/mats.py") names the type ``kind`` was recorded as
    ("pandas.core.frame.DataFrame"): the same class name (a library re-exports its classes elsewhere)."""
    import ast

    written = registration.rpartition(" in ")[0]
    try:
        node = ast.parse(written, mode="eval").body
    except SyntaxError:
        return False
    names = node.elts if isinstance(node, ast.Tuple) else [node]
    last = kind.rpartition(".")[2]
    return any(isinstance(n, (ast.Name, ast.Attribute)) and (n.id if isinstance(n, ast.Name) else n.attr) == last for n in names)


def env_reasons(before: dict | None, env: dict[str, str]) -> list[m.Reason]:
    """The parts of the environment (Python's version) that differ from the recorded ones."""
    if not before or before == env:
        return []
    return [m.Reason(m.ENV_CHANGED, f"{k} {before.get(k)} -> {env.get(k)}") for k in sorted(set(env) | set(before)) if env.get(k) != before.get(k)]


def materializer_code_reason(output: str, out: dict) -> m.Reason:
    """An output written by a materializer of the project's own code, which changed since (or was
    not keyed when the output was written)."""
    if "materializer_code" not in out:
        return m.Reason(m.ENV_CHANGED, f"output {output}: the code of materializer {out['materializer']} now counts in the cache key (zplan upgrade)")
    return m.Reason(m.MATERIALIZER_CHANGED, f"output {output}: materializer {out['materializer']} code changed")


def _loader_change(old: Any, new: Any) -> str:
    """`pandas.arrow 1 -> 2` for one materializer's versions, else `json 1 -> pandas.arrow 1`."""
    old, new = (v[0] if isinstance(v, list) and len(v) == 1 else v for v in (old, new))
    if isinstance(old, str) and isinstance(new, str):
        (name, _, version), (new_name, _, new_version) = old.rpartition(" "), new.rpartition(" ")
        if name and name == new_name:
            return f"{name} {version} -> {new_version}"
    return f"{_loader_names(old)} -> {_loader_names(new)}"


def _loader_names(loader: Any) -> str:
    if isinstance(loader, list):
        return ", ".join(loader) or "(none)"
    return loader or "(none)"


def _show_command(argv: Any) -> str:
    if isinstance(argv, list) and all(isinstance(v, str) for v in argv):
        return " ".join(SHOWN_SENSITIVE if is_digest(v) else v for v in argv)  # (an argument holding a secret is its digest)
    return _show(argv)


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(unset)"
    if value is UNKNOWN:
        return "(known after apply)"
    if is_digest(value):
        return SHOWN_SENSITIVE
    # a secret inside a map or list is recorded as its digest: shown hidden, as a whole one is
    text = shown_for_people(canonical_json(hide_digests(value))) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
