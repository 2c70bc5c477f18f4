"""Recorded state and outputs as text (`show`, `state list|show`, `output`)."""

from __future__ import annotations

import sys

from zplan.config.values import shown_value
from zplan.render.console import json_text, printable, say
from zplan.secrets import SHOWN_SENSITIVE, shown_for_people, shown_output


def echo(text: str) -> None:
    sys.stdout.write(text + "\n")


def print_json(doc) -> None:
    echo(json_text(doc, indent=2, sort_keys=True))


def print_state(doc: dict) -> None:
    if doc["serial"] == 0 and not (doc["resources"] or doc["steps"] or doc["outputs"]):
        # nothing written yet: the lineage would be a new one on every read, so none is shown
        say("No state recorded yet: run `zplan apply`.")
        return
    say(f"serial {doc['serial']}, lineage {doc['lineage']}", "bold")
    for addr, r in sorted(doc["resources"].items()):
        say(f"{addr}")
        for k, v in sorted(r["attributes"].items()):
            say(f"    {k} = {shown_for_people(json_text(v))}")
    for addr, s in sorted(doc["steps"].items()):
        say(f"{addr}  {s['status']} (run {s.get('run')}, {s.get('finished_at', '')[:19]})")


def print_addresses(addresses: list[str]) -> None:
    for addr in addresses:
        echo(addr)


def print_outputs(outputs: list, quiet_if_none: bool = False) -> None:
    """After apply and for `zplan output`: NAME = VALUE lines, sensitive ones hidden."""
    if not outputs:
        if not quiet_if_none:
            say("No outputs recorded.")
        return
    say("\nOutputs:", "bold")
    for o in outputs:
        say(f"  {o.name} = {SHOWN_SENSITIVE if o.sensitive else shown_for_people(printable(shown_value(o.value)))}")


def print_output_value(output, raw: bool) -> None:
    """`zplan output NAME`: the value alone (a sensitive one only when unsealed by -show-sensitive)."""
    value = shown_output(output.value, output.sensitive)
    echo(value if raw and isinstance(value, str) else shown_for_people(printable(shown_value(value))))


def print_outputs_json(outputs: list) -> None:
    echo(json_text({o.name: {"value": None if o.sensitive else _one_number(o.value), "sensitive": o.sensitive} for o in outputs}, indent=2))


def _one_number(value):
    """A whole float as the int (``1.0`` as ``1``), as ``zplan output -json NAME`` and Terraform write it: one number type."""
    from zplan.config.convert import whole

    if isinstance(value, float):
        return whole(value)
    if isinstance(value, dict):
        return {k: _one_number(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_one_number(v) for v in value]
    return value


def print_verify_report(report, repaired: bool) -> None:
    """What `zplan verify` found: one line per damaged or missing artifact, then counts."""
    from zplan.artifacts.base import DAMAGED, INTACT, MISSING

    for finding in report.problems:
        say(f"  {finding.status:8} {finding.digest}  {', '.join(finding.used_by)}", "delete" if finding.status == DAMAGED else "update")
    counts = ", ".join(f"{report.count(s)} {s}" for s in (INTACT, DAMAGED, MISSING))
    say(f"Checked {len(report.findings)} artifact(s) in {report.store_url}: {counts}.", "bold")
    if report.problems and repaired:
        dropped = "Dropped the damaged artifacts and" if not report.not_deleted else "Dropped"
        say(f"{dropped} the cache entries naming a bad one ({report.dropped_cache_entries}); "
            f"the next apply reruns: {', '.join(report.rerun) or 'nothing (no cache entry named them)'}.")
        for digest, why in report.not_deleted:
            say(f"  could not delete the damaged artifact {digest}: {why}", "delete")
        if report.not_deleted:
            say("No cache entry names them any more, and the next apply stores their steps' outputs afresh; "
                "make the artifact store writable and run `zplan verify -repair` again to delete them now.")
    elif report.problems:
        say("Run `zplan verify -repair` to drop them, so the next apply reruns the steps that made them.")
