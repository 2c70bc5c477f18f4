"""Planning steps: each step's cache key, and the reasons it reruns (cheapest checks first).

A step is cached when its cache key names a successful execution recorded for
the current artifact + metadata store pair (and its artifacts are still there).
Otherwise it runs, and the reasons compare what is wanted now with what the
step's latest execution recorded: forced, never ran, failed, code, params,
inputs, environment — in that order, as DVC checks a stage.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple

from zplan import diags
from zplan.config.expr import UNKNOWN, contains_unknown
from zplan.config.model import StepConfig
from zplan.config.scope import Scope, StepOutputRef
from zplan.hashing import StatCache, canonical_json, hash_value
from zplan.plan import model as m
from zplan.plan.code import CodeError, CodeIndex
from zplan.secrets import SENSITIVE, digest_secrets, is_digest
from zplan.state.model import CacheEntry, State, StepRecord

KEY_VERSION = 1


def environment() -> dict[str, str]:
    """The parts of the environment that can change a step's results."""
    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}"}


class _Draft(NamedTuple):
    """The parts of a step plan its cache key and reasons are computed from."""

    code_hash: str
    params: dict[str, Any]
    inputs: dict[str, m.StepInput]


class StepPlanner:
    def __init__(
        self,
        project_dir: Path,
        state: State,
        store_key: str | None,
        code: CodeIndex,
        stat_cache: StatCache,
        secrets: list[str],
        artifact_present: Callable[[str], bool] = lambda digest: True,
        materializer_version: Callable[[str], str | None] = lambda name: None,
    ) -> None:
        self.project_dir = project_dir
        self.state = state
        self.store_key = store_key
        self.code = code
        self.stat_cache = stat_cache
        self.secrets = secrets
        self.artifact_present = artifact_present
        self.materializer_version = materializer_version
        self.planned: dict[str, m.StepPlan] = {}
        self.env = environment()

    # -- one step ----------------------------------------------------------------------------
    def plan(self, step: StepConfig, scope: Scope, forced: bool, stack_known: bool = True) -> m.StepPlan:
        address = str(step.addr)
        try:
            info = self.code.info(step.file, step.function)
        except CodeError as exc:
            raise diags.fail(exc.summary, exc.detail, step.source_range) from None
        params = self._params(step, scope)
        inputs = self._inputs(step, scope)
        upstream = m.upstream_inputs(inputs)
        draft = _Draft(info.hash, params, inputs)  # what the key and the reasons read
        self._check_outputs_exist(step, draft)
        fingerprint = self.fingerprint(draft)
        known = stack_known and fingerprint is not None
        cache_key = hash_value(fingerprint) if known else None
        entry = self.state.cache_entry(self.store_key, cache_key) if known and self.store_key else None
        cached = not forced and entry is not None and self._entry_usable(entry)
        if not cached:
            record = self.state.step_record(self.store_key, address) if self.store_key else None
            reasons = self._reasons(draft, record, forced, stack_known, entry)
        plan = m.StepPlan(
            address=address,
            pipeline=step.pipeline,
            step=step.name,
            action=m.CACHED if cached else m.RUN,
            reasons=[] if cached else reasons,
            cache_key=cache_key,
            code_hash=info.hash,
            source=step.source,
            params=params,
            inputs=inputs,
            outputs=step.outputs or info.outputs,
            cached_from=entry if cached else None,
            depends_on=sorted({i.step for i in upstream}),
        )
        self.planned[address] = plan
        return plan

    def for_run(self, store_key: str | None, planned: dict[str, m.StepPlan]) -> "StepPlanner":
        """A planner for re-planning steps during apply: same caches, the run's own view of
        each step (``planned``, updated as steps finish) and the stack's settled store key."""
        other = copy.copy(self)
        other.store_key, other.planned = store_key, planned
        return other

    def fingerprint(self, plan: m.StepPlan) -> dict | None:
        """What the cache key hashes; None while an input or param is known only after apply."""
        if contains_unknown(plan.params):
            return None
        digests = {}
        for name, spec in plan.inputs.items():
            digest = spec.digest
            if digest is None:
                return None
            digests[name] = digest
        return {
            "v": KEY_VERSION,
            "code": plan.code_hash,
            "params": digest_secrets(plan.params, self.secrets),
            "inputs": digests,
            "env": self.env,
        }

    # -- parts ---------------------------------------------------------------------------------
    def _params(self, step: StepConfig, scope: Scope) -> dict[str, Any]:
        if step.params is None:
            return {}
        value = scope.eval(step.params)
        if not isinstance(value, dict):
            raise diags.fail(f'step "{step.name}": params must be an object', "e.g. params = { c = 1.0 }", step.params.range)
        try:
            canonical_json(_without_unknown(value))
        except TypeError as exc:
            raise diags.fail(f'step "{step.name}": params must be plain values', str(exc), step.params.range) from None
        return value

    def _inputs(self, step: StepConfig, scope: Scope) -> dict[str, m.StepInput]:
        if step.inputs is None:
            return {}
        value = scope.eval(step.inputs, pipeline=step.pipeline)
        if not isinstance(value, dict):
            raise diags.fail(
                f'step "{step.name}": inputs must be an object',
                "e.g. inputs = { data = step.load.outputs.data, raw = \"data/raw.csv\" }",
                step.inputs.range,
            )
        return {name: self._input(step, name, v) for name, v in value.items()}

    def _input(self, step: StepConfig, name: str, value: Any) -> m.StepInput:
        if isinstance(value, StepOutputRef):
            return self._upstream(step, value)
        if isinstance(value, list) and value and all(isinstance(v, StepOutputRef) for v in value):
            return m.ListInput(tuple(self._upstream(step, v) for v in value))
        if isinstance(value, str):
            return self._data(step, name, value)
        raise diags.fail(
            f'step "{step.name}": input "{name}" must be a step output or a path to a file or folder',
            f"got {value!r}; use step.NAME.outputs.OUTPUT, a list of them, or \"data/file.csv\"",
            step.inputs.range,
        )

    def _upstream(self, step: StepConfig, ref: StepOutputRef) -> m.StepOutputInput:
        upstream = self.planned.get(ref.address)
        if upstream is None:  # excluded by -target/-exclude: use what was recorded
            record = self.state.step_record(self.store_key, ref.address) if self.store_key else None
            out = record.outputs.get(ref.output) if record is not None and record.succeeded else None
            return m.StepOutputInput(ref.address, ref.output, out["digest"] if out else None)
        if upstream.action != m.CACHED:
            return m.StepOutputInput(ref.address, ref.output, None)
        out = upstream.cached_from.outputs.get(ref.output)
        if out is None:
            raise diags.fail(
                f'step "{ref.step}" has no output "{ref.output}"',
                f"its outputs are: {', '.join(upstream.cached_from.outputs) or 'none'}",
                step.inputs.range,
            )
        return m.StepOutputInput(ref.address, ref.output, out["digest"])

    def _data(self, step: StepConfig, name: str, rel: str) -> m.DataInput:
        # normpath, not resolve(): no symlink walk per input on every plan
        path = os.path.normpath(os.path.join(self.project_dir, rel))
        if not os.path.exists(path):
            raise diags.fail(
                f'step "{step.name}": input "{name}" names {rel}, which does not exist',
                "inputs given as strings are paths relative to the project folder",
                step.inputs.range,
            )
        return m.DataInput(rel, self.stat_cache.tree_hash(path))

    def _check_outputs_exist(self, step: StepConfig, plan: _Draft) -> None:
        for spec in m.upstream_inputs(plan.inputs):
            upstream = self.planned.get(spec.step)
            declared = upstream.outputs if upstream else None
            if declared is not None and spec.output not in declared:
                raise diags.fail(
                    f'step "{spec.step.rsplit(".", 1)[1]}" has no output "{spec.output}"',
                    f"its outputs are: {', '.join(declared)}",
                    step.inputs.range,
                )

    def _entry_usable(self, entry: CacheEntry) -> bool:
        for out in entry.outputs.values():
            current = self.materializer_version(out.get("materializer", ""))
            if current is not None and current != out.get("materializer_version"):
                return False
            if not self.artifact_present(out["digest"]):
                return False
        return True

    # -- reasons ---------------------------------------------------------------------------------
    def _reasons(self, plan: _Draft, record: StepRecord | None, forced: bool, stack_known: bool, entry: CacheEntry | None) -> list[m.Reason]:
        if forced:
            return [m.Reason(m.REPLACE_REQUESTED, "forced by -replace")]
        if record is None:
            return [m.Reason(m.NEVER_RAN, "never ran")]
        reasons: list[m.Reason] = []
        if record.status == "failed":
            reasons.append(m.Reason(m.PREVIOUS_FAILED, "previous run failed"))
        before = record.fingerprint
        if before.get("code") != plan.code_hash:
            reasons.append(m.Reason(m.CODE_CHANGED, "code changed"))
        reasons += _param_reasons(before.get("params", {}), digest_secrets(plan.params, self.secrets), self.secrets)
        reasons += self._input_reasons(plan, before.get("inputs", {}))
        if before.get("env") and before.get("env") != self.env:
            for k in sorted(set(self.env) | set(before["env"])):
                if self.env.get(k) != before["env"].get(k):
                    reasons.append(m.Reason(m.ENV_CHANGED, f"{k} {before['env'].get(k)} -> {self.env.get(k)}"))
        if not stack_known:
            reasons.append(m.Reason(m.KNOWN_AFTER_APPLY, "stack settings known after apply"))
        if not reasons and entry is not None:
            reasons.append(m.Reason(m.OUTPUTS_MISSING, "recorded outputs are missing or their materializer changed"))
        if not reasons:
            reasons.append(m.Reason(m.OUTPUTS_MISSING, "no cached result for this key"))
        return reasons

    def _input_reasons(self, plan: _Draft, before: dict) -> list[m.Reason]:
        reasons = []
        for name, spec in plan.inputs.items():
            upstreams = m.upstream_inputs({name: spec})
            running = [u.step for u in upstreams if (p := self.planned.get(u.step)) and p.action == m.RUN]
            if running:
                names = ", ".join(r.rsplit(".", 1)[1] for r in running)
                reasons.append(m.Reason(m.UPSTREAM_RERUNS, f"input {name} changes (upstream {names} reruns)"))
                continue
            digest = spec.digest
            if digest is None:
                reasons.append(m.Reason(m.KNOWN_AFTER_APPLY, f"input {name} known after apply"))
            elif before.get(name) != digest:
                what = f" ({spec.path})" if isinstance(spec, m.DataInput) else ""
                reasons.append(m.Reason(m.INPUT_CHANGED, f"input {name} changed{what}"))
        for name in sorted(set(before) - set(plan.inputs)):
            reasons.append(m.Reason(m.INPUT_CHANGED, f"input {name} removed"))
        return reasons


def _without_unknown(value: Any) -> Any:
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: _without_unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_unknown(v) for v in value]
    return value


def _param_reasons(before: dict, after: dict, secrets: list[str]) -> list[m.Reason]:
    reasons = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old != new:
            reasons.append(m.Reason(m.PARAMS_CHANGED, f"params.{key}: {_show(old)} -> {_show(new)}"))
    return reasons


_MISSING = object()


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(unset)"
    if value is UNKNOWN:
        return "(known after apply)"
    if is_digest(value):
        return SENSITIVE
    text = canonical_json(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
