"""Shared pieces of the commands: opening the project, locking, confirming, printing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer

from zplan import diags
from zplan.render.console import is_terminal, print_lines

CHDIR: dict[str, Optional[Path]] = {"path": None}


def opt(default: Any, name: str, help: str) -> Any:
    """A Terraform-style flag: -name and --name."""
    return typer.Option(default, f"-{name}", f"--{name}", help=help)


def click_errors():
    import click

    return (click.ClickException, click.Abort)


def root() -> Path:
    return (CHDIR["path"] or Path.cwd()).resolve()


def root_or_none() -> Path | None:
    try:
        return root()
    except OSError:
        return None


def say(text: str, style: str = "") -> None:
    print_lines([(style, text)])


def echo(text: str) -> None:
    sys.stdout.write(text + "\n")


def open_project(var: List[str], var_file: List[Path], stack: Optional[str]):
    from zplan.project import Options, Project

    return Project.open(root(), Options(vars=list(var), var_files=list(var_file), stack=stack))


# -- plans -------------------------------------------------------------------------------------------


def print_plan(doc: dict, format: str, verbose: bool) -> None:
    if format == "json":
        echo(json.dumps(doc, indent=2, sort_keys=True))
    elif format == "markdown":
        from zplan.render.plan_markdown import render

        echo(render(doc, verbose=verbose))
    elif format == "text":
        from zplan.plan.jsonplan import has_changes
        from zplan.render.plan_text import render

        print_lines(render(doc, verbose))
        if not has_changes(doc):
            say("No changes. Your pipelines and infrastructure match the configuration.", "bold")
    else:
        raise diags.fail(f"unknown plan format {format!r}", "use text, markdown or json")


def save_planfile(out: Path, planned, project) -> None:
    from zplan.config.fingerprint import fingerprints
    from zplan.plan import planfile

    sensitive = {n for n, v in project.config.variables.items() if v.sensitive}
    planfile.write(out, planned.plan, project.variables, sensitive, fingerprints(project.root, project.config.files))


def read_planfile(path: Path) -> dict:
    from zplan.plan import planfile

    return planfile.read(path)


# -- apply / destroy ------------------------------------------------------------------------------------


def run_apply(planfile: Optional[Path], auto_approve: bool, var, var_file, stack, target, exclude, replace,
              parallelism: int, lock_timeout: str, refresh, verbose: bool, destroy: bool) -> None:
    from zplan import operations
    from zplan.plan.jsonplan import has_changes, to_json
    from zplan.plan.planner import PlanRequest
    from zplan.project import ensure_state_dir

    saved = read_planfile(planfile) if planfile is not None else None
    if saved is not None:  # apply exactly the reviewed plan: same variables, stack and selection
        options = saved["plan"]["options"]
        var = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in saved["variables"].items()] + list(var)
        stack, target, exclude, replace = saved["plan"]["stack"], options["targets"], options["excludes"], options["replace"]
        destroy = saved["plan"]["destroy"]
    project = open_project(var, var_file, stack)
    if saved is None and not auto_approve and not sys.stdin.isatty():
        raise diags.fail(
            f"{'destroy' if destroy else 'apply'} needs confirmation, but standard input is not a terminal",
            "pass -auto-approve, or apply a reviewed plan file: zplan plan -out plan.zplan && zplan apply plan.zplan",
        )
    ensure_state_dir(project)
    backend = project.state_backend()
    timeout = operations.lock_timeout_seconds(lock_timeout)
    with backend.lock("destroy" if destroy else "apply", timeout, _lock_wait_view(), _stale_lock_view()):
        planned = operations.make_plan(project, backend, PlanRequest(list(target), list(exclude), list(replace), destroy), refresh)
        doc = to_json(planned.plan)
        if saved is not None:
            from zplan.config.fingerprint import fingerprints
            from zplan.plan import planfile as pf

            pf.check(saved, planned.state.serial, planned.state.lineage, fingerprints(project.root, project.config.files), planned.plan)
        elif not auto_approve or verbose:
            print_plan(doc, "text", verbose)
        if not has_changes(doc) and not planned.plan.outputs:
            say("No changes. Nothing to apply.", "bold")
            return
        if saved is None and not auto_approve and has_changes(doc):
            if not typer.confirm(f"\nDo you want to {'destroy these resources' if destroy else 'apply these changes'}?", default=False):
                say("Apply cancelled.")
                raise typer.Exit(1)
        view = _apply_view()
        try:
            result = operations.apply(planned, backend, view, parallelism or None)
        finally:
            getattr(view, "close", lambda: None)()
    if not result.changed and not has_changes(doc):
        say("No changes. Nothing to apply.", "bold")
    if not result.ok:
        sys.stderr.write(f"Error: {len(result.failed)} failed: {', '.join(result.failed)}\n")
        raise typer.Exit(1)
    if not destroy:
        print_outputs(None, False, False, quiet_if_none=True, loaded=(planned.state, project))


def _apply_view():
    from zplan.render.apply_view import LiveView, PlainView

    return LiveView() if is_terminal() else PlainView()


def _lock_wait_view():
    def on_wait(holder, seconds_left: float) -> None:
        who = holder.describe() if holder else "another process"
        sys.stderr.write(f"Waiting for the state lock ({who}); {seconds_left:.0f}s left\n")

    return on_wait


def _stale_lock_view():
    def on_stale(holder) -> None:
        sys.stderr.write(f"Warning: taking over a stale state lock left by a process that is gone ({holder.describe()})\n")

    return on_stale


# -- outputs, state, runs ---------------------------------------------------------------------------------


def _state_and_project(stack: Optional[str] = None):
    from zplan.state.model import State

    project = open_project([], [], stack)
    return State(project.state_backend().read()), project


def print_outputs(name: Optional[str], as_json: bool, raw: bool, quiet_if_none: bool = False, loaded=None, stack: Optional[str] = None) -> None:
    state, project = loaded or _state_and_project(stack)
    outputs = state.outputs_of(project.stack_name)
    if name is not None:
        if name not in outputs:
            raise diags.fail(f'no output named "{name}" in state', "run `zplan apply` first, or check the name")
        o = outputs[name]
        value = "(sensitive)" if o.get("sensitive") and not raw else _unseal(o["value"], project)
        echo(value if raw and isinstance(value, str) else json.dumps(value))
        return
    if as_json:
        echo(json.dumps({k: {"value": None if o.get("sensitive") else o["value"], "sensitive": bool(o.get("sensitive"))} for k, o in outputs.items()}, indent=2))
        return
    if not outputs:
        if not quiet_if_none:
            say("No outputs recorded.")
        return
    say("\nOutputs:", "bold")
    for k, o in sorted(outputs.items()):
        say(f"  {k} = {'(sensitive)' if o.get('sensitive') else json.dumps(o['value'])}")


def _unseal(value, project):
    from zplan.state import secrets

    return secrets.unseal(value, project.state_dir)


def print_state(doc: dict) -> None:
    say(f"serial {doc['serial']}, lineage {doc['lineage']}", "bold")
    for addr, r in sorted(doc["resources"].items()):
        say(f"{addr}")
        for k, v in sorted(r["attributes"].items()):
            say(f"    {k} = {json.dumps(v)}")
    for addr, s in sorted(doc["steps"].items()):
        say(f"{addr}  {s['status']} (run {s.get('run')}, {s.get('finished_at', '')[:19]})")


def state_list() -> None:
    state, project = _state_and_project()
    for addr in sorted(state.resources):
        echo(addr)


def state_show(address: str) -> None:
    from zplan.state.views import state_json

    state, project = _state_and_project()
    doc = state_json(state, project)
    item = doc["resources"].get(_normal_address(address)) or doc["steps"].get(address)
    if item is None:
        raise diags.fail(f"{address} is not in state", "see `zplan state list`")
    echo(json.dumps(item, indent=2, sort_keys=True))


def _normal_address(address: str) -> str:
    from zplan import addrs

    try:
        return str(addrs.parse(address))
    except ValueError as exc:
        raise diags.fail(str(exc)) from None


def _locked_state(lock_timeout: str, operation: str):
    from zplan import operations
    from zplan.project import ensure_state_dir

    project = open_project([], [], None)
    ensure_state_dir(project)
    backend = project.state_backend()
    return project, backend, backend.lock(operation, operations.lock_timeout_seconds(lock_timeout), _lock_wait_view(), _stale_lock_view())


def state_rm(address: str, lock_timeout: str) -> None:
    from zplan.state.model import State

    project, backend, lock = _locked_state(lock_timeout, "state rm")
    addr = _normal_address(address)
    with lock:
        state = State(backend.read())
        if addr not in state.resources:
            raise diags.fail(f"{addr} is not in state", "see `zplan state list`")
        state.forget(addr)
        state.bump()
        backend.write(state.doc)
    say(f"Removed {addr} from state (the resource itself was left as it is).")


def import_resource(address: str, id_: str, lock_timeout: str) -> None:
    from zplan.state.importing import import_into_state

    project, backend, lock = _locked_state(lock_timeout, "import")
    addr = _normal_address(address)
    with lock:
        import_into_state(project, backend, addr, id_)
    say(f"Imported {addr} (id {id_}). Run `zplan plan` to see whether it matches the configuration.", "bold")


def force_unlock(lock_id: str, force: bool) -> None:
    project = open_project([], [], None)
    backend = project.state_backend()
    if not force and sys.stdin.isatty() and not typer.confirm(f"Release lock {lock_id}? Only do this if its holder is gone.", default=False):
        raise typer.Exit(1)
    try:
        backend.force_unlock(lock_id)
    except KeyError:
        held = backend.current_lock()
        raise diags.fail(f"no lock with ID {lock_id}", f"the current lock is {held.describe()}" if held else "the state is not locked") from None
    say("The state lock was released.")


def stack_list() -> None:
    from zplan.config import loader
    from zplan.stack import select

    config = loader.load(root())
    chosen = select.selected_name(config, root() / ".zplan", None)
    names = sorted(config.stacks) or [select.DEFAULT_STACK + " (embedded default)"]
    for name in names:
        echo(f"{'*' if name.split()[0] == chosen else ' '} {name}")


def stack_select(name: str) -> None:
    from zplan.config import loader
    from zplan.stack import select

    config = loader.load(root())
    select.selected_name(config, root() / ".zplan", name)  # validates
    (root() / ".zplan").mkdir(exist_ok=True)
    select.remember(root() / ".zplan", name)
    say(f'Switched to stack "{name}".')


def list_providers() -> None:
    from zplan.provider import ProviderRegistry

    reg = ProviderRegistry()
    for name in reg.names():
        cls = reg.provider_class(name)
        echo(f"{name}: {', '.join(sorted(cls.schemas))}")


def _metadata(stack: Optional[str]):
    from zplan.metadata import MetadataStore

    project = open_project([], [], stack)
    settings = project.static_stack_settings()
    password = settings.get("metadata_password")
    return project, MetadataStore.from_url(str(settings["metadata_store"]), project.root, password if isinstance(password, str) else None)


def print_runs(limit: int, stack: Optional[str]) -> None:
    from zplan.render.runs_view import runs_lines

    project, meta = _metadata(stack)
    try:
        print_lines(runs_lines(meta.runs(limit)))
    finally:
        meta.close()


def print_run(run: int, stack: Optional[str]) -> None:
    from zplan.render.runs_view import run_lines

    project, meta = _metadata(stack)
    try:
        print_lines(run_lines(meta.run_detail(run)))
    finally:
        meta.close()


def print_lineage(what: str, stack: Optional[str]) -> None:
    from zplan.render.runs_view import lineage_lines

    project, meta = _metadata(stack)
    try:
        target = _lineage_target(project, meta, what)
        print_lines(lineage_lines(meta.lineage(target)))
    finally:
        meta.close()


def _lineage_target(project, meta, what: str):
    if what.isdigit():
        return int(what)
    if what.startswith("pipeline."):
        parts = what.split(".")
        address, output = ".".join(parts[:4]), (parts[5] if len(parts) > 5 and parts[4] == "outputs" else "output")
        found = meta.find_artifact(address, output)
        if found is None:
            raise diags.fail(f"no recorded artifact for {address} output {output}", "run `zplan apply` first")
        return found
    out = project.config.outputs.get(what)
    if out is not None:
        for ref in out.expr.references():
            if ref.parts[0] == "step":
                for pname, p in project.config.pipelines.items():
                    if ref.parts[1] in p.steps:
                        found = meta.find_artifact(f"pipeline.{pname}.step.{ref.parts[1]}", str(ref.parts[3]))
                        if found is not None:
                            return found
    raise diags.fail(f"cannot find what {what!r} names", "give pipeline.P.step.S.outputs.O, an output name, or an artifact id")


def run_single_step(address: str, stack: Optional[str], var: List[str]) -> None:
    from zplan.apply.single import run_one

    project = open_project(var, [], stack)
    ok = run_one(project, address)
    if not ok:
        raise typer.Exit(1)
