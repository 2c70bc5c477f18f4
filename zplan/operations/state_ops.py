"""Reading and editing recorded state: `show`, `output`, `state list|show|rm`, `force-unlock`.

Reads return plain typed values for a view to print; edits take the state lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from zplan import addrs, diags
from zplan.operations.opening import ProjectArgs, open_for_reading
from zplan.operations.planning import lock_timeout_seconds
from zplan.project import Project, ensure_state_dir
from zplan.state.model import State


@dataclass(frozen=True)
class Output:
    name: str
    value: Any  # None when sensitive and not asked for in clear
    sensitive: bool


@dataclass
class LockViews:
    on_wait: Callable[[Any, float], None] | None = None
    on_stale: Callable[[Any], None] | None = None


def read_state(args: ProjectArgs) -> tuple[State, Project]:
    project = open_for_reading(args)
    return State(project.state_backend().read()), project


def state_doc(args: ProjectArgs) -> dict:
    """The stack's state as `show -json` prints it (sensitive values hidden)."""
    from zplan.state.views import state_json

    state, project = read_state(args)
    return state_json(state, project)


def shown_state(args: ProjectArgs) -> tuple[dict, list[Output]]:
    """What `show` prints, from one read: the state document, then the outputs, as Terraform's `show`."""
    from zplan.state.views import state_json

    loaded = read_state(args)
    return state_json(*loaded), outputs(None, loaded, lenient=True)


def shown_state_json(args: ProjectArgs) -> dict:
    """What `show -json` prints: the state document with each output as `show` and `zplan output`
    give it (a JSON step output too large for state: its value, not its artifact's URI)."""
    doc, recorded = shown_state(args)
    doc["outputs"] = {o.name: doc["outputs"][o.name] if o.sensitive else o.value for o in recorded}
    if doc["serial"] == 0 and not (doc["resources"] or doc["steps"] or doc["outputs"]):
        doc["lineage"] = None  # nothing written yet: a lineage would be a new one on every read
    return doc


def state_addresses(args: ProjectArgs) -> list[str]:
    """Every resource, then every step recorded for the stack."""
    doc = state_doc(args)
    return sorted(doc["resources"]) + sorted(doc["steps"])


def state_item(args: ProjectArgs, address: str) -> dict:
    doc = state_doc(args)
    key = _selector(address)
    item = doc["resources"].get(key) or doc["steps"].get(key)
    if item is not None:
        return item
    found = _matching([*doc["resources"], *doc["steps"]], key)
    if found:  # a module, a pipeline or a block with count / for_each: as many records as instances
        raise diags.fail(f"{key} names {len(found)} recorded instances: give one", "\n".join(found[:20]) + ("\n..." if len(found) > 20 else ""))
    raise diags.fail(f"{address} is not in state", "see `zplan state list`")


def outputs(args: ProjectArgs | None, loaded: tuple[State, Project] | None = None, lenient: bool = False) -> list[Output]:
    """The outputs recorded by the last apply on the stack (sensitive values withheld). ``lenient``
    (after an apply, in `show`): an artifact that cannot be read leaves its URI, as state has it."""
    state, project = loaded or read_state(args)
    values = _ArtifactValues(state, project, strict=not lenient)
    return [Output(name, None if o.get("sensitive") else values.of(name, o["value"]), bool(o.get("sensitive")))
            for name, o in sorted(state.outputs_of(project.stack_name).items())]


def output(args: ProjectArgs, name: str, reveal: bool, raw: bool = False, as_json: bool = False) -> Output:
    """One recorded output; ``reveal`` unseals a sensitive value (`output -show-sensitive NAME`),
    which `-raw` or `-json` alone never does: printing a secret in clear is asked for by name, and a
    script reading the value must not take the "(sensitive)" placeholder for it."""
    from zplan.state import secrets

    state, project = read_state(args)
    recorded = state.outputs_of(project.stack_name)
    if name not in recorded:
        raise diags.fail(f'no output named "{name}" in state', "run `zplan apply` first, or check the name")
    o = recorded[name]
    sensitive = bool(o.get("sensitive"))
    if sensitive and (raw or as_json) and not reveal:
        flag = "-raw" if raw else "-json"
        raise diags.fail(
            f'output "{name}" is sensitive',
            f"{flag} does not print a sensitive value: add -show-sensitive (zplan output {flag} -show-sensitive {name}) to print it in clear",
        )
    value = secrets.unseal(o["value"], project.state_dir) if reveal or not sensitive else None
    value = _ArtifactValues(state, project).of(name, value)
    if raw and not isinstance(value, (str, bool, int, float)):  # as Terraform: text for a shell, no JSON to parse
        raise diags.fail(f'output "{name}" is {_kind(value)}: -raw prints a string, number or bool only',
                         f"use -json for a machine-readable value: zplan output -json {name}")
    return Output(name, value, sensitive)


class _ArtifactValues:
    """Outputs as Terraform shows them, whatever their size: a step's JSON output too large to be
    kept in state was recorded as its artifact's URI, and is read back from the artifact store."""

    def __init__(self, state: State, project: Project, strict: bool = True) -> None:
        from zplan.state.views import large_json_outputs

        self.project, self.strict = project, strict
        self.large = large_json_outputs(state, project) if state.outputs_of(project.stack_name) else {}
        self.store = None
        self.unreachable = False

    def of(self, name: str, value: Any) -> Any:
        from zplan.state.views import with_artifact_values

        return with_artifact_values(value, self.large, lambda *found: self._load(name, *found)) if self.large else value

    def _load(self, name: str, uri: str, address: str, digest: str) -> Any:
        from zplan.artifacts.base import ArtifactCorrupted, ArtifactNotFound, ArtifactStore, ArtifactStoreError
        from zplan.artifacts.materializers import get_materializer

        if self.store is None:
            url = str(self.project.static_stack_settings()["artifact_store"])
            self.store = ArtifactStore.from_url(url, self.project.root)
        if self.unreachable:
            return uri
        try:
            return get_materializer("json").load(self.store.get(digest, verify=True))
        except ArtifactStoreError as exc:
            if not self.strict:  # `show` reads state: a store it cannot reach leaves the URI, as a missing artifact
                self.unreachable = not isinstance(exc, (ArtifactNotFound, ArtifactCorrupted))  # (no wait per output)
                return uri
            if not isinstance(exc, (ArtifactNotFound, ArtifactCorrupted)):
                raise  # the store's own error says what to check (the endpoint, the credentials)
            reason = exc.diagnostics[0].summary
            raise diags.fail(f'output "{name}": its value, the output of {address} (artifact {digest[:12]}), cannot be read: {reason}',
                             f"run `zplan apply -replace {address}` to make it again (`zplan verify` lists every artifact missing or damaged)") from None


def _kind(value: Any) -> str:
    return "null" if value is None else "a map" if isinstance(value, dict) else "a list"


def state_rm(args: ProjectArgs, address: str, lock_timeout: str, views: LockViews) -> list[str]:
    """Forget resources without destroying them: one, every instance of a block given without its
    key, or every resource in a module (as ``terraform state rm``); returns their addresses."""
    key = _selector(address)
    if isinstance(addrs.parse_selector(key), (addrs.StepAddr, addrs.PipelineAddr)):
        # a step's record is what caching and lineage read: rerunning is what -replace is for
        raise diags.fail(f"{key} is a step: `zplan state rm` forgets resources only",
                         f"to run the step again, use `zplan apply -replace {key}`; its records stay for the cache and lineage")
    project = open_for_reading(args)  # it evaluates nothing: a variable the state's store does not read needs no value
    backend = _backend(project)
    with backend.lock("state rm", lock_timeout_seconds(lock_timeout), views.on_wait, views.on_stale):
        state = State(backend.read())
        found = _matching(state.resources, key)
        if not found:
            raise diags.fail(f"{key} is not in state", "see `zplan state list`")
        for resource in found:
            state.forget(resource)
        state.bump()
        backend.write(state.doc)
    return found


def force_unlock(args: ProjectArgs, lock_id: str, confirm: Callable[[], bool] | None = None) -> bool:
    """Release the lock ``lock_id``; False when ``confirm`` declined."""
    project = open_for_reading(args)  # (as state rm)
    backend = project.state_backend()
    if confirm is not None and not confirm():
        return False
    from zplan.state.backend import LockStillHeld

    try:
        backend.force_unlock(lock_id)
    except KeyError:
        held = backend.current_lock()
        raise diags.fail(f"no lock with ID {lock_id}", f"the current lock is {held.describe()}" if held else "the state is not locked") from None
    except LockStillHeld as exc:
        holder = exc.holder
        raise diags.fail(
            f"{exc}: it was not released",
            f"the lock is freed when {holder.operation} ends, even if it is killed (kill {holder.pid} on {holder.host});"
            " force-unlock is for a holder that is gone",
        ) from None
    return True


def _backend(project: Project):
    ensure_state_dir(project)
    return project.state_backend()


def _selector(address: str) -> str:
    """The canonical spelling of a step, resource, pipeline or module address."""
    try:
        return str(addrs.parse_selector(address))
    except ValueError as exc:
        raise diags.fail(str(exc)) from None


def _matching(addresses, selector: str) -> list[str]:
    return sorted(a for a in addresses if addrs.matches(a, selector))


@dataclass(frozen=True)
class Pushed:
    serial: int  # the stored state's serial now
    written: bool  # False: the stored state was that document already


def state_push(args: ProjectArgs, source: str, raw: bytes, force: bool, lock_timeout: str, views: LockViews) -> Pushed:
    """Replace the stored state with the document ``raw`` read from ``source`` (a recovery file, a
    backup), as ``terraform state push``: one of another lineage, or older than the stored state,
    is refused unless ``force``, as it would drop what the stored state records since."""
    from zplan.apply.state_writes import RECOVERY_NAME
    from zplan.state.checks import parse_document

    pushed = State(parse_document(raw, source, f"push a state file zplan wrote ({RECOVERY_NAME}, state.json.backup)"))
    project = open_for_reading(args)  # (as state rm)
    backend = _backend(project)
    with backend.lock("state push", lock_timeout_seconds(lock_timeout), views.on_wait, views.on_stale):
        stored = _stored_or_damaged(backend, source, force)
        if stored is not None:
            stored = State(stored)
            if stored.doc == pushed.doc:
                return Pushed(pushed.serial, False)
            _check_push(source, pushed, stored, force)
            # a serial of its own, so a plan saved against the state it replaces is refused as stale
            pushed.doc["serial"] = max(pushed.serial, stored.serial + 1)
        backend.write(pushed.doc)
    return Pushed(pushed.serial, True)


def _stored_or_damaged(backend, source: str, force: bool) -> dict | None:
    """The stored state; None when there is none, or when it is damaged and ``force`` replaces it
    (restoring a good copy over a damaged state is what push is for)."""
    from zplan.state.checks import StateDamaged

    try:
        return backend.read()
    except StateDamaged as exc:
        if force:
            return None
        raise diags.fail(exc.diagnostics[0].summary, f"to replace it with {source}, push it with -force: "
                                                      f"zplan state push -force {source}") from None


def _check_push(source: str, pushed: State, stored: State, force: bool) -> None:
    if force:
        return
    if pushed.lineage != stored.lineage:
        raise diags.fail(f"cannot push {source}: its lineage {pushed.lineage} is not the stored state's ({stored.lineage})",
                         "it is the state of another project or stack, or of one made again from scratch; "
                         "-force replaces the stored state with it all the same (what only the stored state records is forgotten)")
    if pushed.serial <= stored.serial:  # the same serial, another content: both were written from one state
        from zplan.apply.state_writes import differences

        newer = differences(pushed.doc, stored.doc)
        over = "newer state" if pushed.serial < stored.serial else "another state of the same serial"
        raise diags.fail(f"cannot push {source} (serial {pushed.serial}) over {over} (serial {stored.serial})",
                         "the stored state was written since" + (f" and records otherwise: {', '.join(newer[:10])}"
                                                                  + (", ..." if len(newer) > 10 else "") if newer else "")
                         + "; -force replaces it all the same (what only the stored state records is forgotten)")
