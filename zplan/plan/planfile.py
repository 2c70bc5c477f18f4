"""Saved plans (``plan -out FILE``): what was reviewed, so apply does exactly that or refuses.

A plan file holds the JSON plan (already free of secrets), the variable values it
was made with (sensitive ones by name only: they are read again at apply), the
state serial and lineage, and fingerprints of every config file (parsed content),
every step's code and every data input. ``check`` refuses a plan whose state
moved on or whose config, code or data changed since, naming what changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zplan import diags
from zplan.fsutil import atomic_write_text
from zplan.plan import model as m
from zplan.plan.jsonplan import to_json

PLANFILE_VERSION = 1


def write(path: Path, plan: m.Plan, variables: dict[str, Any], sensitive: set[str], config_fingerprint: dict[str, str]) -> None:
    doc = {
        "planfile_version": PLANFILE_VERSION,
        "plan": to_json(plan),
        "variables": {k: v for k, v in variables.items() if k not in sensitive},
        "sensitive_variables": sorted(sensitive),
        "config": config_fingerprint,
        "code": {s.address: s.code_hash for s in plan.steps},
        "data": _data_digests(plan),
    }
    atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def read(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise diags.fail(f"plan file {path} does not exist", "create one with `zplan plan -out FILE`") from None
    except (ValueError, UnicodeDecodeError):
        raise diags.fail(f"{path} is not a zplan plan file", "create one with `zplan plan -out FILE`") from None
    if not isinstance(doc, dict) or doc.get("planfile_version") != PLANFILE_VERSION:
        raise diags.fail(f"{path} is not a zplan plan file of a supported version", "make a new plan with this zplan version")
    return doc


def check(saved: dict, state_serial: int, state_lineage: str, config_fingerprint: dict[str, str], plan: m.Plan) -> None:
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
    now_code = {s.address: s.code_hash for s in plan.steps}
    for address, digest in saved["code"].items():
        if now_code.get(address) != digest:
            raise diags.fail(f"saved plan is stale: the code of {address} changed since the plan was made", "run `zplan plan` again and review it")
    now_data = _data_digests(plan)
    for key, digest in saved["data"].items():
        if now_data.get(key) != digest:
            raise diags.fail(f"saved plan is stale: input data {key} changed since the plan was made", "run `zplan plan` again and review it")
    if _actions(saved["plan"]) != _actions(to_json(plan)):
        raise diags.fail("saved plan is stale: applying now would do something else than the reviewed plan", "run `zplan plan` again and review it")


def _actions(doc: dict) -> list:
    return sorted((x["address"], x["action"]) for x in doc["resources"] + doc["steps"])


def _data_digests(plan: m.Plan) -> dict[str, str]:
    out = {}
    for s in plan.steps:
        for name, spec in s.inputs.items():
            if isinstance(spec, m.DataInput):
                out[f"{s.address}.inputs.{name} ({spec.path})"] = spec.digest
    return out
