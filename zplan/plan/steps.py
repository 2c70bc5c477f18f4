"""Planning steps: each step's cache key, and the reasons it reruns (cheapest checks first).

A step is cached when its cache key names a successful execution recorded for
the current artifact + metadata store pair (and its artifacts are still there).
Otherwise it runs, and the reasons compare what is wanted now with what the
step's latest execution recorded: forced, never ran, failed, code (naming the
definitions that changed), library versions, params, inputs, environment — in
that order, as DVC checks a stage.
"""

from __future__ import annotations

import copy
import os
import stat
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple

from zplan import diags
from zplan.config.instance_values import whole_step_outputs
from zplan.config.values import Template, contains_unknown
from zplan.config.model import StepConfig
from zplan.config.scope import Scope, StepOutputRef
from zplan.fsutil import OpenFolder
from zplan.graph.build import resources_read
from zplan.hashing import StatCache, hash_value
from zplan.plan import data_inputs, signatures
from zplan.plan import model as m
from zplan.plan.code_hash import CodeError, CodeIndex
from zplan.plan.file_reads import changed_reads
from zplan.plan.libraries import LibraryIndex
from zplan.plan.loaders import Loaders
from zplan.plan.params import param_sources, refuse_secret_names, step_params
from zplan.project import STATE_DIR
from zplan.plan.checks import check_outputs_exist
from zplan.plan.reason_text import (code_message, env_reasons, input_loading_reasons, input_reasons, library_reasons,
                                    materializer_code_reason, name_reasons, param_reasons, registration_reasons, reuse_message)
from zplan.secrets import digest_record
from zplan.state.model import CacheEntry, State, StepRecord
from zplan.steps import repeated

KEY_VERSION = 2  # 2: code followed through every import style, per-definition digests, library versions


def environment() -> dict[str, str]:
    """The parts of the environment that can change a step's results."""
    return {"python": f"{sys.version_info.major}.{sys.version_info.minor}"}


class _Draft(NamedTuple):
    """The parts of a step plan its cache key and reasons are computed from."""

    code_hash: str
    code_parts: dict[str, str]
    libraries: dict[str, str]
    params: dict[str, Any]
    inputs: dict[str, m.StepInput]
    resources: dict[str, str | None]  # resource read -> digest of its applied record (None: not yet applied)
    param_sources: dict[str, str] = {}  # param -> "params.yaml:train.n_est" when read from a params file
    materializers: dict[str, str] = {}  # name -> "TYPE in FILE": registered by the project modules the step imports


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
        materializer_version: Callable[..., str | None] = lambda name, module=None: None,
        libraries: LibraryIndex | None = None,
        materializer_modules: Callable[..., tuple[str, ...]] = lambda name, module=None: (),
        materializer_code: Callable[..., str | None] = lambda name, module=None: None,
        materializer_registrations: Callable[..., dict[str, str]] = lambda name, module: {},
    ) -> None:
        self.project_dir = project_dir
        self._dir = os.fspath(project_dir)  # a plain string: joined with every data input on every plan
        normal = self._dir == os.path.normpath(self._dir) and self._dir != "/"
        self._prefix = self._dir + "/" if normal else None  # for paths that normpath would leave as they are
        self._folder = OpenFolder(self._dir)  # shared by the copies for_run makes
        self._state_dir = os.path.join(os.path.normpath(self._dir), STATE_DIR)  # no data input may hold it
        self.state = state
        self.store_key = store_key
        self.code = code
        self.stat_cache = stat_cache
        self.secrets = secrets
        self.artifact_present = artifact_present
        self.materializer_version, self.materializer_code = materializer_version, materializer_code
        self.libraries = libraries or LibraryIndex()
        self.loaders = Loaders(materializer_version, materializer_modules, self.libraries, materializer_code, materializer_registrations)
        self.planned: dict[str, m.StepPlan] = {}
        self.damaged: set[str] = set()  # digests a step found damaged while loading them (apply)
        # address -> how that resource changes in this plan or run ("update"), None when it does not
        self.resource_change: Callable[[str], str | None] = lambda address: None
        self.env = environment()
        # address -> the recorded result a step waiting on rerunning upstreams reuses if their outputs come out unchanged
        self._reused: dict[str, CacheEntry] = {}
        self._param_refs: dict = {}  # params expression -> its items that may read a params file (param_sources)

    # -- one step ----------------------------------------------------------------------------
    def plan(self, step: StepConfig, scope: Scope, forced: bool, stack_known: bool = True) -> m.StepPlan:
        address = step.address
        scope.step_is_sensitive = self.outputs_sensitive
        if step.script is not None:  # a command: zplan.plan.script_steps (imported here: most steps are functions)
            from zplan.plan.script_steps import script_parts

            info, params, inputs = script_parts(self, step, scope)
        else:
            try:
                info = self.code.info(step.file, step.function) if step.tfx is None else None
            except CodeError as exc:
                raise diags.fail(exc.summary, exc.detail, step.source_range) from None
            params = step_params(step, scope)
            inputs = self._inputs(step, scope)
        if info is None:  # a TFX component: its code is the module files its params name
            from zplan.plan.tfx_steps import tfx_code_info

            info = tfx_code_info(step, scope, self.code, params, inputs)
        receives_secret = scope.read_sensitive() and any(expr is not None and scope.was_sensitive(expr)
                                                         for expr in (step.params, step.inputs, step.script and step.script.command))
        check = signatures.check_call(step, info.signature, params, inputs)
        if check:
            raise diags.DiagnosticError(check)
        if not step.outputs and (twice := repeated(info.outputs or [])):
            raise diags.fail(f'step "{step.name}": {step.function} declares the output "{twice}" twice',
                             "give each output its own name: one would overwrite the other", step.source_range)
        upstream = m.upstream_inputs(inputs)
        libraries = self.libraries.versions(info.modules)
        read = sorted(resources_read(scope.config, step))
        resources = {address: self._resource_digest(address) for address in read}
        sources = param_sources(step, scope, self._param_refs) if step.params is not None else {}
        # what its worker imports registers: the step's code, and the modules of its inputs' materializers (as last time while pending)
        registered = {**self.loaders.registrations(self._expected_loaders(inputs)), **info.materializers}
        draft = _Draft(info.hash, info.parts, libraries, params, inputs, resources, sources, registered)  # what the key and the reasons read
        check_outputs_exist(step, upstream, self.planned)
        fingerprint = self.fingerprint(draft)
        known = stack_known and fingerprint is not None
        cache_key = hash_value(fingerprint) if known else None
        entry = self.state.cache_entry(self.store_key, cache_key) if known and self.store_key else None
        touched = self._resources_changing(read)
        cached = step.cache and not forced and not touched and entry is not None and self._entry_problem(entry.outputs, entry.reads) is None
        if not step.cache and not forced:  # runs on every apply; what changed since it last ran is named too
            record = self.state.step_record(self.store_key, address) if self.store_key else None
            disabled = m.Reason(m.ReasonCode.CACHE_DISABLED, "cache = false: runs on every apply")
            reasons = [m.Reason(m.NEVER_RAN, "never ran"), disabled] if record is None else [disabled, *self._changes(draft, record, stack_known, touched)]
        elif not cached:
            record = self.state.step_record(self.store_key, address) if self.store_key else None
            reused_key = self._reused_if_unchanged(draft) if stack_known and fingerprint is None and not forced and not touched else None
            if reused_key is not None:
                self._reused[address] = reused = self.state.cache_entry(self.store_key, reused_key)
            if reused_key is not None and (record is None or record.cache_key != reused_key):
                # an older execution than the latest one would serve: its code and params are not reasons
                reasons = [r for r in input_reasons(draft.inputs, {}, self.planned) if r.code == m.UPSTREAM_RERUNS] + [m.Reason(m.UPSTREAM_RERUNS, reuse_message(reused))]
            else:
                reasons = self._reasons(draft, record, forced, stack_known, entry, touched)
        plan = m.step_plan(
            address=address,
            pipeline=step.pipeline,
            step=step.name,
            action=m.CACHED if cached else m.RUN,
            reasons=[] if cached else reasons,
            cache_key=cache_key,
            code_hash=info.hash,
            code_parts=info.parts,
            libraries=libraries,
            materializers=registered,
            source=step.source,
            tfx=step.tfx,
            params=params,
            inputs=inputs,
            resources=resources,
            outputs=step.outputs or info.outputs,
            cached_from=entry if cached else None,
            depends_on=sorted({i.step for i in upstream}),
            sensitive_outputs=receives_secret if info.sensitive_outputs is None else info.sensitive_outputs,
        )
        self.planned[address] = plan
        return plan

    def outputs_sensitive(self, address: str) -> bool:
        """Whether a step planned so far has sensitive outputs (what reads them is sensitive too)."""
        return (planned := self.planned.get(address)) is not None and planned.sensitive_outputs

    def for_run(self, store_key: str | None, planned: dict[str, m.StepPlan],
                resource_change: Callable[[str], str | None] = lambda address: None) -> "StepPlanner":
        """A planner for re-planning steps during apply: same caches, the run's own view of
        each step (``planned``, updated as steps finish), the stack's settled store key, and
        the resources this run changed."""
        other = copy.copy(self)
        other.store_key, other.planned, other.resource_change = store_key, planned, resource_change
        return other

    def _reused_if_unchanged(self, draft: _Draft) -> str | None:
        """The cache key of the recorded result this step reuses should every rerunning upstream
        produce the output it produced last time (a step waiting on them is then cached, not rerun):
        its own code and params are then not reasons, whatever the latest execution used."""
        inputs = {}
        for name, spec in draft.inputs.items():
            inputs[name] = self._as_last_time(spec)
            if inputs[name] is None:
                return None
        fingerprint = self.fingerprint(draft._replace(inputs=inputs))
        key = hash_value(fingerprint) if fingerprint and self.store_key else None
        return key if key is not None and self.state.cache_entry(self.store_key, key) is not None else None

    def _as_last_time(self, spec: m.StepInput) -> m.StepInput | None:
        """An input with a pending upstream output replaced by that output's last digest (None: unknown)."""
        if isinstance(spec, m.ListInput):
            items = [self._as_last_time(i) for i in spec.items]
            return None if None in items else m.ListInput(tuple(items))
        if not isinstance(spec, m.StepOutputInput) or spec.digest is not None:
            return spec
        entry = self._reused.get(spec.step)
        if entry is None:
            record = self.state.step_record(self.store_key, spec.step) if self.store_key else None
            entry = record if record is not None and record.succeeded else None
        out = entry.outputs.get(spec.output) if entry is not None else None
        return m.StepOutputInput(spec.step, spec.output, out["digest"], self.loaders.of(out)) if out else None

    def _resource_digest(self, address: str) -> str | None:
        """What a step's key keeps of a resource it reads: its applied record (rewritten only
        when the resource is applied), so a redeploy the step never saw reruns it next time."""
        return None if (record := self.state.resources.get(address)) is None else hash_value([record.get("inputs", {}), record.get("attributes", {})])[:16]

    def _resources_changing(self, read: list[str]) -> list[m.Reason]:
        """A step reading a resource that is created, updated or replaced reruns (a smoke
        test after every redeploy), even when the attributes it reads stay the same."""
        reasons = []
        for address in read:
            change = self.resource_change(address)
            if change is not None:
                reasons.append(m.Reason(m.RESOURCE_CHANGED, f"{address} changes ({change})"))
        return reasons

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
        if None in plan.resources.values():
            return None
        extra = {"resources": plan.resources} if plan.resources else {}  # absent: keys of other steps stay as they were
        names = m.file_names(plan.inputs)
        if names:  # a step reads its input file's name (its suffix, say) in the path it is given
            extra["names"] = names
        loaders = m.loaders(plan.inputs)
        if loaders:  # what a step gets from an upstream output depends on what loads it (zplan.plan.loaders)
            extra["loaders"] = loaders
            extra["loader_libraries"] = self.loaders.libraries(loaders)
            code = self.loaders.code(loaders)
            if code:  # absent when the project's code registers none of them: other steps' keys stay as they were
                extra["loader_code"] = code
        if plan.materializers:  # which one stores each output (absent when none: other steps' keys stay as they were)
            extra["materializers"] = plan.materializers
        return {
            **extra,
            "v": KEY_VERSION,
            "code": plan.code_hash,
            "code_parts": plan.code_parts,
            "libraries": plan.libraries,
            "params": digest_record(plan.params, self.secrets),
            "inputs": digests,
            "env": self.env,
        }

    # -- parts ---------------------------------------------------------------------------------
    def _inputs(self, step: StepConfig, scope: Scope) -> dict[str, m.StepInput]:
        if step.inputs is None:
            return {}
        value = scope.eval(step.inputs, pipeline=step.pipeline, where=step.where)
        if not isinstance(value, dict):
            raise diags.fail(
                f'step "{step.name}": inputs must be an object',
                "e.g. inputs = { data = step.load.outputs.data, raw = \"data/raw.csv\" }",
                step.inputs.range,
            )
        if scope.was_sensitive(step.inputs):
            refuse_secret_names(step, "inputs", step.inputs, value, scope)
        return {name: self._input(step, name, v) for name, v in value.items()}

    def _input(self, step: StepConfig, name: str, value: Any) -> m.StepInput:
        if isinstance(value, StepOutputRef):
            return self._upstream(step, value)
        # (empty too, as Terraform's step.train[*] of no instances: the step gets [] or {})
        if isinstance(value, list) and all(isinstance(v, StepOutputRef) for v in value):
            return m.ListInput(tuple(self._upstream(step, v) for v in value))
        if isinstance(value, dict) and (value or whole_step_outputs(value) is None) and all(isinstance(v, StepOutputRef) for v in value.values()):
            return m.ListInput(tuple(self._upstream(step, v) for v in value.values()), tuple(value))
        if isinstance(value, str):
            return self._data(step, name, value)
        whole = whole_step_outputs(value)  # (its every key reads, "path" too)
        if whole is not None:
            raise diags.fail(f'step "{step.name}": input "{name}" is every output of step.{whole.step}: name one, {whole.one_of_them()}',
                             "a step without declared outputs has one, output", step.inputs.range)
        if isinstance(value, dict) and "path" in value:
            return self._data_with_mode(step, name, value)
        raise diags.fail(
            f'step "{step.name}": input "{name}" must be a step output or a path to a file or folder',
            f"got {str(value) if isinstance(value, Template) else value!r}; use step.NAME.outputs.OUTPUT, a list or map of them, \"data/file.csv\" "
            "or { path = \"data/file.csv\", snapshot = \"reference\" }",
            step.inputs.range,
        )

    def _upstream(self, step: StepConfig, ref: StepOutputRef) -> m.StepOutputInput:
        upstream = self.planned.get(ref.address)
        if upstream is None:  # excluded by -target/-exclude: use what was recorded
            record = self.state.step_record(self.store_key, ref.address) if self.store_key else None
            out = record.outputs.get(ref.output) if record is not None and record.succeeded else None
            return m.StepOutputInput(ref.address, ref.output, out["digest"] if out else None, self.loaders.of(out) if out else None)
        if upstream.action != m.CACHED:
            return m.StepOutputInput(ref.address, ref.output, None)
        out = upstream.cached_from.outputs.get(ref.output)
        if out is None:
            raise diags.fail(
                f'step "{ref.step}" has no output "{ref.output}"',
                f"its outputs are: {', '.join(upstream.cached_from.outputs) or 'none'}",
                step.inputs.range,
            )
        return m.StepOutputInput(ref.address, ref.output, out["digest"], self.loaders.of(out))

    def _data(self, step: StepConfig, name: str, rel: str, snapshot: bool = True) -> m.DataInput:
        path, st = data_inputs.located(rel, self._dir, self._prefix, self._folder)
        if st is None:
            raise diags.fail(
                f'step "{step.name}": input "{name}" names {rel}, which does not exist',
                "inputs given as strings are paths relative to the project folder",
                step.inputs.range,
            )
        if rel.startswith(("/", "./")) and path.startswith(self._dir + "/"):
            rel = path[len(self._dir) + 1 :]  # "${path.root}/data.csv" ("./data.csv"): shown and recorded as any project path
        digest = self.data_digest(step, f'input "{name}"', rel, path, st, lambda: step.inputs.range, clone=snapshot)
        file_name = rel.rpartition("/")[2] if stat.S_ISREG(st.st_mode) else None  # (a file's path ends in its name)
        return m.DataInput(rel, digest, file_name=file_name)

    def data_digest(self, step: StepConfig, what: str, rel: str, path: str, st: os.stat_result, where: Callable, clone: bool = False) -> str:
        """The content digest of a data input, or a plan error at ``where`` (``zplan.plan.data_inputs``; ``clone``: it will be snapshotted)."""
        return data_inputs.digest(self.stat_cache, self._state_dir, step, what, rel, path, st, where, clone)

    def _data_with_mode(self, step: StepConfig, name: str, value: dict) -> m.DataInput:
        """``{ path = "data/big.bin", snapshot = "reference" }``: read in place, not snapshotted."""
        from zplan.artifacts.snapshot import SNAPSHOT_MODES

        mode = value.get("snapshot", "copy")
        unknown = sorted(set(value) - {"path", "snapshot"})
        if unknown or not isinstance(value["path"], str) or mode not in SNAPSHOT_MODES:
            raise diags.fail(
                f'step "{step.name}": input "{name}" must be {{ path = "...", snapshot = "copy" | "reference" }}',
                f"got {value!r}" + (f" (unknown key {unknown[0]!r})" if unknown else ""),
                step.inputs.range,
            )
        spec = self._data(step, name, value["path"], snapshot=mode != "reference")
        return m.DataInput(spec.path, spec.digest, reference=mode == "reference", file_name=spec.file_name)

    def _entry_problem(self, outputs: dict[str, dict], reads: dict | None = None) -> m.Reason | None:
        """Why a recorded result cannot be reused as it is, or None: a changed materializer, then an output
        found damaged during this apply, then one gone from the store (existence only: contents are
        verified when a step loads them), then a file its code read undeclared that changed since."""
        outputs = sorted(outputs.items()) if len(outputs) > 1 else list(outputs.items())
        for name, out in outputs:
            current = self.materializer_version(out.get("materializer", ""), out.get("materializer_module"))
            if current is None and out.get("materializer") and not out.get("materializer_module"):  # a built-in or a plugin: always a version
                return m.Reason(m.MATERIALIZER_CHANGED, f"output {name}: materializer {out['materializer']} is no longer installed")
            if current is not None and current != out.get("materializer_version"):
                return m.Reason(m.MATERIALIZER_CHANGED, f"output {name}: materializer {out.get('materializer')} {out.get('materializer_version')} -> {current}")
            code = self.materializer_code(out.get("materializer", ""), out["materializer_module"]) if out.get("materializer_module") else None
            if code is not None and code != out.get("materializer_code"):
                return materializer_code_reason(name, out)
        for name, out in outputs:
            if out["digest"] in self.damaged:
                return m.Reason(m.ARTIFACT_DAMAGED, f"artifact damaged (digest mismatch): output {name} ({out['digest'][:12]})")
        for name, out in outputs:
            if not self.artifact_present(out["digest"]):
                return m.Reason(m.ARTIFACT_MISSING, f"artifact missing from the store (rerun): output {name} ({out['digest'][:12]})")
        return changed_reads(reads, self._dir, self._state_dir, self.stat_cache) if reads else None

    def with_materializer_code(self, outputs: dict[str, dict]) -> dict[str, dict]:
        """A step's outputs as its worker recorded them, each written by a materializer of the
        project's own code with the digest of that code (``_entry_problem`` compares it)."""
        marked = {}
        for name, out in outputs.items():
            code = self.materializer_code(out["materializer"], out["materializer_module"]) if out.get("materializer_module") else None
            marked[name] = out if code is None else {**out, "materializer_code": code}
        return marked

    # -- reasons ---------------------------------------------------------------------------------
    def _reasons(self, plan: _Draft, record: StepRecord | None, forced: bool, stack_known: bool, entry: CacheEntry | None,
                 touched: list[m.Reason] = ()) -> list[m.Reason]:
        if forced:
            return [m.Reason(m.REPLACE_REQUESTED, "forced by -replace")]
        if record is None:
            return [m.Reason(m.NEVER_RAN, "never ran")]
        reasons = self._changes(plan, record, stack_known, touched)
        if not reasons:
            recorded = entry.outputs if entry is not None else record.outputs if record.succeeded else {}
            problem = self._entry_problem(recorded, (entry or record).reads)
            # nothing differs from the latest success: its cache entry alone is gone
            gone = "its cached result was dropped (zplan gc or zplan verify -repair)" if record.succeeded else "no cached result for this key"
            reasons.append(problem or m.Reason(m.OUTPUTS_MISSING, gone))
        return reasons

    def _changes(self, plan: _Draft, record: StepRecord, stack_known: bool, touched: list[m.Reason]) -> list[m.Reason]:
        """What differs from the step's latest execution (``record``): each a reason to rerun."""
        reasons: list[m.Reason] = list(touched)
        if record.status == "failed":
            reasons.append(m.Reason(m.PREVIOUS_FAILED, "previous run failed"))
        before = record.fingerprint
        if before.get("v", 1) != KEY_VERSION:
            reasons.append(m.Reason(m.ENV_CHANGED, f"cache key format changed (zplan upgrade: v{before.get('v', 1)} -> v{KEY_VERSION})"))
            return reasons
        if before.get("code") != plan.code_hash:
            reasons.append(m.Reason(m.CODE_CHANGED, code_message(before.get("code_parts", {}), plan.code_parts)))
        was = before.get("libraries", {})
        reasons += library_reasons(was, plan.libraries, self.libraries.required_by(was) if before.get("code") == plan.code_hash else None)
        reasons += param_reasons(before.get("params", {}), digest_record(plan.params, self.secrets), self.secrets, plan.param_sources)
        reasons += input_reasons(plan.inputs, before.get("inputs", {}), self.planned)
        reasons += name_reasons(before, m.file_names(plan.inputs), bool(reasons))
        reasons += input_loading_reasons(before, self._expected_loaders(plan.inputs, before), self.loaders, plan.libraries, bool(reasons))
        reasons += registration_reasons(before, plan.materializers, record.outputs)
        if not touched:
            was = before.get("resources", {})
            reasons += [m.Reason(m.RESOURCE_CHANGED, f"{a} changed since the step last ran" if a in was else f"reads {a}, which it did not when it last ran")
                        for a, digest in plan.resources.items() if digest is not None and was.get(a) != digest]
        reasons += env_reasons(before.get("env"), self.env)
        reasons += filter(None, [self._entry_problem({}, record.reads)])  # (a file its code read undeclared, changed)
        if not stack_known:
            reasons.append(m.Reason(m.KNOWN_AFTER_APPLY, "stack settings known after apply"))
        return reasons

    def _expected_loaders(self, inputs: dict[str, m.StepInput], before: dict | None = None) -> dict[str, Any]:
        """The materializers that will load the step's upstream outputs; for one still to be made, the one
        that loads its last result, else (its latest run failed, leaving none) the one the step last had."""
        expected = {}
        for name, spec in inputs.items():
            if isinstance(spec, (m.StepOutputInput, m.ListInput)):
                last = self._as_last_time(spec) if spec.digest is None else spec
                if last is not None:
                    expected[name] = last
        if not before:  # (planning every step: only a step that reruns has a latest run's loaders to look at)
            return m.loaders(expected)
        pending = [n for n, spec in inputs.items() if isinstance(spec, (m.StepOutputInput, m.ListInput)) and n not in expected]
        return {**self.loaders.as_recorded(before.get("loaders", {}), pending), **m.loaders(expected)}
