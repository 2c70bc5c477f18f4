"""Saved plans (``plan -out FILE``): what was reviewed, so apply does exactly that or refuses.

A plan file holds the JSON plan (already free of secrets), the variable values it
was made with, typed as planned (sensitive ones only as a salted digest: apply reads
them again from the environment and checks they are the values planned), the
state serial and lineage, and fingerprints of every config file (parsed content),
of the stack's and the providers' settings as evaluated (keyed digests), every
step's code and every data input. ``check`` refuses a plan whose state
moved on or whose config, code or data changed since, naming what changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets as _random
from pathlib import Path
from typing import Any

from zplan import __version__, diags
from zplan.fsutil import atomic_write_text
from zplan.plan import model as m
from zplan.plan.jsonplan import to_json
from zplan.secrets import redact

PLANFILE_VERSION = 1


def write(path: Path, plan: m.Plan, variables: dict[str, Any], sensitive: set[str], config_fingerprint: dict[str, str],
          stack_settings: dict[str, Any], provider_settings: dict[str, dict[str, Any]]) -> None:
    doc = {
        "planfile_version": PLANFILE_VERSION,
        "zplan_version": __version__,
        "plan": to_json(plan),
        "variables": {k: v for k, v in variables.items() if k not in sensitive},
        "sensitive_variables": sorted(sensitive),
        "sensitive_digests": _sensitive_digests(variables, sensitive, salt := _random.token_hex(16)),
        "sensitive_salt": salt,
        "stack_settings": _keyed(salt, stack_settings),
        "provider_settings": _provider_digests(salt, provider_settings),
        "config": config_fingerprint,
        "code": {s.address: s.code_hash for s in plan.steps},
        "data": _data_digests(plan),
        "hidden": _hidden_digests(salt, plan),
        "providers": _provider_versions(plan),
    }
    atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def read(path: Path) -> dict:
    """The saved plan in ``path``; a missing, foreign or damaged file is a clear error naming it."""
    make_new = "make a new one with `zplan plan -out FILE`"
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise diags.fail(f"plan file {path} does not exist", "create one with `zplan plan -out FILE`") from None
    except IsADirectoryError:
        raise diags.fail(f"plan file {path} is a folder, not a file", "give the file `zplan plan -out FILE` wrote") from None
    except PermissionError:
        raise diags.fail(f"plan file {path} cannot be read: permission denied", "check the file's permissions") from None
    except (ValueError, UnicodeDecodeError):
        raise diags.fail(f"{path} is not a zplan plan file (not JSON text)", make_new) from None
    if not isinstance(doc, dict) or "planfile_version" not in doc:
        raise diags.fail(f"{path} is not a zplan plan file", make_new)
    if doc.get("planfile_version") != PLANFILE_VERSION:
        raise diags.fail(f"{path} is not a zplan plan file of a supported version", "make a new plan with this zplan version")
    problem = _shape_problem(doc)
    if problem:
        raise diags.fail(f"plan file {path} is damaged: {problem}", f"do not apply it; {make_new}")
    return doc


# What ``check`` and ``apply PLANFILE`` read from a plan file, and the JSON type each must have.
_SHAPE: dict[str, type] = {
    "plan": dict, "plan.state": dict, "plan.state.serial": int, "plan.state.lineage": str,
    "plan.stack": str, "plan.destroy": bool, "plan.options": dict, "plan.options.targets": list,
    "plan.options.excludes": list, "plan.options.replace": list, "plan.resources": list, "plan.steps": list,
    "plan.outputs": dict, "plan.summary": dict,
    "variables": dict, "sensitive_variables": list, "config": dict, "code": dict, "data": dict,
}
# Written by every zplan, read only when there: their type is checked when present.
_OPTIONAL: dict[str, type] = {"sensitive_digests": dict, "sensitive_salt": str, "stack_settings": str, "zplan_version": str,
                             "provider_settings": dict, "hidden": dict, "providers": dict}
# The fields of each resource and step entry that the check and the views read.
_ENTRY: dict[str, type] = {"address": str, "action": str, "reasons": list}
_STEP_ENTRY: dict[str, type] = {**_ENTRY, "params": dict}
# Lists inside the plan and the type of their items (a missing optional one reads as empty).
_ITEMS: dict[str, type] = {"options.targets": str, "options.excludes": str, "options.replace": str, "restored": str,
                           "moved": dict, "checkouts": dict, "other_stacks": dict}
# The fields of those items the views read.
_ITEM_FIELDS: dict[str, tuple[str, ...]] = {"moved": ("from", "to"), "checkouts": ("path", "step", "reason"), "other_stacks": ("address",)}
_SUMMARY = ("add", "change", "destroy", "steps_run", "steps_cached")


def check_version(saved: dict, path: Path) -> None:
    """As Terraform: a plan is applied by the zplan that made it (another one may plan, key or apply
    otherwise); a plan file written before the version was kept has none to compare."""
    made_by = saved.get("zplan_version", __version__)
    if made_by != __version__:
        raise diags.fail(f"plan file {path} was made by zplan v{made_by}, and this is zplan v{__version__}",
                         "a saved plan is applied by the zplan version that made it: make a new plan with this version (zplan plan -out FILE)")
    planned = saved.get("providers", {})
    now = _provider_versions_of(sorted(planned))
    for name, version in sorted(planned.items()):
        if now[name] != version:  # (as the zplan version: the same actions may be applied otherwise)
            now = now[name]
            raise diags.fail(f'plan file {path} was made with provider "{name}" v{version}, and '
                             + (f"v{now} is installed now" if now else "no package installs it now"),
                             "a saved plan is applied by the provider versions that made it: reinstall that version, "
                             "or make a new plan (zplan plan -out FILE)")


def _provider_versions(plan: m.Plan) -> dict[str, str | None]:
    """The package version of each provider the plan's resources use: another one may plan otherwise."""
    return _provider_versions_of(sorted({r.provider for r in plan.resources}))


def _provider_versions_of(names: list[str]) -> dict[str, str | None]:
    from zplan.provider import plugin_version

    return {name: plugin_version(name) for name in names}


def _shape_problem(doc: dict) -> str | None:
    for dotted, kind in _SHAPE.items():
        value: Any = doc
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, kind):
            return f"{dotted} is missing or not a JSON {_JSON_NAMES[kind]}"
    for key, kind in _OPTIONAL.items():
        if key in doc and not isinstance(doc[key], kind):
            return f"{key} is not a JSON {_JSON_NAMES[kind]}"
    for kind, fields in (("resources", _ENTRY), ("steps", _STEP_ENTRY)):
        for i, entry in enumerate(doc["plan"][kind]):
            bad = next((f for f, t in fields.items() if not isinstance(entry, dict) or not isinstance(entry.get(f), t)), None)
            if bad is not None:
                return f"plan.{kind}[{i}] has no {bad} (a JSON {_JSON_NAMES[fields[bad]]})"
    return _inner_problem(doc["plan"])


def _inner_problem(plan: dict) -> str | None:
    """What the views and the apply read inside the plan's lists, summary and outputs."""
    for dotted, kind in _ITEMS.items():
        head, _, tail = dotted.partition(".")
        items = plan[head].get(tail, []) if tail else plan.get(head, [])
        if not isinstance(items, list):
            return f"plan.{dotted} is not a JSON array"
        for i, item in enumerate(items):
            if not isinstance(item, kind):
                return f"plan.{dotted}[{i}] is not a JSON {_JSON_NAMES[kind]}"
            bad = next((f for f in _ITEM_FIELDS.get(dotted, ()) if not isinstance(item.get(f), str)), None)
            if bad is not None:
                return f"plan.{dotted}[{i}] has no {bad} (a JSON string)"
    bad = next((k for k in _SUMMARY if type(plan["summary"].get(k)) is not int), None)
    if bad is not None:
        return f"plan.summary.{bad} is missing or not a JSON number"
    for name, o in plan["outputs"].items():
        if not isinstance(o, dict) or not isinstance(o.get("known"), bool) or not isinstance(o.get("sensitive"), bool):
            return f"plan.outputs.{name} is not a JSON object with known, sensitive and value"
    return None


_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "number", bool: "boolean"}


def check(saved: dict, state_serial: int, state_lineage: str, config_fingerprint: dict[str, str], plan: m.Plan,
          stack_settings: dict[str, Any], provider_settings: dict[str, dict[str, Any]]) -> None:
    """Refuse a saved plan that no longer describes what apply would do."""
    old = saved["plan"]["state"]
    if old["serial"] != state_serial:
        raise diags.fail(
            "saved plan is stale",
            f"it was made against state serial {old['serial']}, and state is now at serial {state_serial}; run `zplan plan` again",
        )
    # Before the first apply there is no state: its lineage is made up anew by every command.
    if old["lineage"] != state_lineage and state_serial != 0:
        raise diags.fail("saved plan is stale", "it was made against another state (a different lineage); run `zplan plan` again")
    for file in sorted(set(saved["config"]) | set(config_fingerprint)):
        if saved["config"].get(file) != config_fingerprint.get(file):
            what = "was added" if file not in saved["config"] else "was removed" if file not in config_fingerprint else "changed"
            raise diags.fail(f"saved plan is stale: configuration file {file} {what} since the plan was made", "run `zplan plan` again and review it")
    _check_stack(saved, stack_settings)
    _check_providers(saved, provider_settings)
    now_code = {s.address: s.code_hash for s in plan.steps}
    for address, digest in saved["code"].items():
        if now_code.get(address) != digest:
            raise diags.fail(f"saved plan is stale: the code of {address} changed since the plan was made", "run `zplan plan` again and review it")
    now_data = _data_digests(plan)
    for key, digest in saved["data"].items():
        if now_data.get(key) != digest:
            raise diags.fail(f"saved plan is stale: input data {key} changed since the plan was made", "run `zplan plan` again and review it")
    now_params = {s["address"]: s["params"] for s in to_json(plan)["steps"]}
    for step in saved["plan"]["steps"]:  # variables are the saved ones: a params file or an env() changes a param
        was, now_ = step["params"], now_params.get(step["address"], step["params"])
        if now_ != was:
            name = next(k for k in sorted(set(was) | set(now_), key=str) if was.get(k, _NONE) != now_.get(k, _NONE))
            shown = name if ":" in str(name) else f"params.{name}"  # (a script step's param is named FILE:KEY)
            raise diags.fail(f"saved plan is stale: {shown} of {step['address']} changed since the plan was made "
                             f"({_shown(was, name)} -> {_shown(now_, name)})",
                             "a params file or an env() it reads changed? run `zplan plan` again and review it")
    now = json.loads(json.dumps(to_json(plan)))  # (as the saved one was read back: tuples are lists)
    if _actions(saved["plan"]) != _actions(now):
        raise diags.fail(f"saved plan is stale: applying now would do something else than the reviewed plan ({_first_difference(saved['plan'], now)})",
                         "run `zplan plan` again and review it")
    _check_values(saved["plan"], now)
    _check_hidden(saved, plan)
    _check_checkouts(saved["plan"], now)


_NONE = object()


def _shown(params: dict, name: str) -> str:
    """A param as the JSON plan shows it (a secret is "(sensitive)" there), or (none)."""
    return json.dumps(params[name]) if name in params else "(none)"


# What a resource entry says apply will write: `env("DIR")` in an attribute may read otherwise at apply.
_PLANNED = ("after", "after_unknown", "replace_because")


def _check_values(before: dict, now: dict) -> None:
    """The same actions with other values are another plan: a resource created with another
    attribute, an output recorded with another value (an `env()` that reads otherwise now)."""
    planned = {r["address"]: r for r in before["resources"]}
    for r in now["resources"]:
        was = planned.get(r["address"], {})
        attr = next((k for k in _PLANNED if was.get(k) != r[k]), None)
        if attr is not None:
            raise diags.fail(f"saved plan is stale: the planned {_value_change(attr, was, r)} of {r['address']} changed since the plan was made",
                             "run `zplan plan` again and review it")
    for name, o in now["outputs"].items():
        if before["outputs"].get(name) != o:
            raise diags.fail(f"saved plan is stale: the planned value of output {name} changed since the plan was made",
                             "run `zplan plan` again and review it")


def _check_hidden(saved: dict, plan: m.Plan) -> None:
    """What the reviewed plan hides (a secret attribute, output or param, `<sensitive>` either way) is
    another plan when it reads otherwise now (an `env()`). (A plan file without the digests predates them.)"""
    if "hidden" not in saved:
        return
    now = _hidden_digests(saved.get("sensitive_salt", ""), plan)
    moved = next((k for k in sorted(set(saved["hidden"]) | set(now)) if saved["hidden"].get(k) != now.get(k)), None)
    if moved is not None:
        raise diags.fail(f"saved plan is stale: the planned value of {moved} changed since the plan was made",
                         "it is sensitive, so the plans show it hidden either way; an `env()` it reads is set otherwise now? "
                         "run `zplan plan` again and review it")


def _hidden_digests(salt: str, plan: m.Plan) -> dict[str, str]:
    """Keyed digests of every planned attribute, output and step param (the JSON plan shows a secret one
    as "(sensitive)" whatever it is): equal values are recognised, none can be read back."""
    out = {f"{r.address}.{k}": _keyed(salt, v) for r in plan.resources for k, v in (r.after or {}).items()}
    out.update({f"output.{name}": _keyed(salt, o.get("value")) for name, o in plan.outputs.items()})
    out.update({f"{s.address}.params.{k}": _keyed(salt, v) for s in plan.steps for k, v in s.params.items()})
    return out


def _value_change(attr: str, was: dict, now: dict) -> str:
    """`attributes path ("a" -> "b")`: which of the entry's planned values moved, as the JSON plan shows them."""
    if attr != "after" or not isinstance(was.get("after"), dict) or not isinstance(now["after"], dict):
        return attr.replace("_", " ")
    old, new = was["after"], now["after"]
    names = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "attribute " + ", ".join(f"{k} ({json.dumps(old.get(k))} -> {json.dumps(new.get(k))})" for k in names)


def _check_stack(saved: dict, settings: dict[str, Any]) -> None:
    """Where steps run and what they are cached in is part of the plan: an `env()` in the stack
    block that reads otherwise now would apply elsewhere (a plan file without the digest predates it)."""
    if "stack_settings" in saved and saved["stack_settings"] != _keyed(saved.get("sensitive_salt", ""), settings):
        raise diags.fail(f"saved plan is stale: the settings of stack \"{saved['plan']['stack']}\" changed since the plan was made "
                         "(its artifact store, metadata store, orchestrator...)", "run `zplan plan` again and review it")


def _check_providers(saved: dict, settings: dict[str, dict[str, Any]]) -> None:
    """Where resources are made is part of the plan: an `env()` in a provider block (or the environment
    variable a provider reads) that reads otherwise now would apply them in another project or region.
    A setting known only after apply (read from a resource the apply makes) is compared as such: the
    reviewed plan said it is taken from that resource. (A plan file without the digests predates them.)"""
    if "provider_settings" not in saved:
        return
    now = _provider_digests(saved.get("sensitive_salt", ""), settings)
    for name in sorted(set(saved["provider_settings"]) | set(now)):
        was, digests = saved["provider_settings"].get(name), now.get(name, {})
        if was != digests:
            was = was if isinstance(was, dict) else {}
            moved = sorted(k for k in set(was) | set(digests) if was.get(k) != digests.get(k))
            raise diags.fail(f'saved plan is stale: the settings of provider "{name}" changed since the plan was made ({", ".join(moved)})',
                             "an `env()` or environment variable it reads is set otherwise now? run `zplan plan` again and review it")


def _provider_digests(salt: str, settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Each setting on its own, keyed: a changed one is named, a secret one cannot be read back."""
    return {name: {k: _keyed(salt, v) for k, v in values.items()} for name, values in settings.items()}


def _check_checkouts(before: dict, now: dict) -> None:
    """An out the reviewed plan did not list as checked out again is not overwritten in the
    project folder (one it listed and the user restored since is simply left as it is)."""
    listed = before.get("checkouts")
    paths = {c.get("path") for c in listed if isinstance(c, dict)} if isinstance(listed, list) else set()
    for c in now["checkouts"]:
        if c["path"] not in paths:
            raise diags.fail(f"saved plan is stale: {c['path']} changed in the project folder since the plan was made "
                             f"(applying now would check it out again from {c['step']}: {c['reason'].replace('_', ' ')})",
                             "run `zplan plan` again and review it, or apply with -no-checkout to leave the project folder as it is")


def _first_difference(before: dict, now: dict) -> str:
    """The first address whose action moved, and why it would now: `pipeline.p.step.a: cached -> run (numpy 2.0.1 -> 2.1.0)`."""
    planned = dict(_actions(before))
    for item in now["resources"] + now["steps"]:
        was = planned.pop(item["address"], "(none)")
        if was != item["action"]:
            why = "; ".join(r["message"] for r in item.get("reasons", ()))
            return f"{item['address']}: {was} -> {item['action']}" + (f": {why}" if why else "")
    address, was = next(iter(sorted(planned.items())))
    return f"{address}: {was} -> (none)"


def changed_sensitive(saved: dict, variables: dict[str, Any]) -> list[str]:
    """Sensitive variables whose value now differs from the one the plan was made with."""
    digests = saved.get("sensitive_digests", {})
    now = _sensitive_digests(variables, set(digests), saved.get("sensitive_salt", ""))
    return sorted(name for name, digest in digests.items() if now.get(name) != digest)


def _sensitive_digests(variables: dict[str, Any], sensitive: set[str], salt: str) -> dict[str, str]:
    """Keyed digests: equal values are recognised, the values themselves cannot be read back."""
    return {name: _keyed(salt, variables[name]) for name in sorted(sensitive) if name in variables}


def _keyed(salt: str, value: Any) -> str:
    """A digest keyed by the plan's salt: a value (a secret among them) cannot be read back from it."""
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except TypeError:  # keys of several types (a decoded YAML map): kept in their own, evaluated, order
        text = json.dumps(value, default=repr)
    return hmac.new(salt.encode(), text.encode(), hashlib.sha256).hexdigest()


def _actions(doc: dict) -> list:
    return sorted((x["address"], x["action"]) for x in doc["resources"] + doc["steps"])


def _data_digests(plan: m.Plan) -> dict[str, str]:
    out = {}
    for s in plan.steps:
        for name, spec in s.inputs.items():
            if isinstance(spec, m.DataInput):  # (a path given by a sensitive variable is not written in clear)
                out[f"{s.address}.inputs.{name} ({redact(spec.path, plan.secrets)})"] = spec.digest
    return out
