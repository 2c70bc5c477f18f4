"""What `zplan gc` removed, or would remove on a dry run: one line per artifact, then the total."""

from __future__ import annotations

from zplan.render.console import say

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size_text(size: int) -> str:
    """1536 -> "1.5 KiB"; bytes below 1 KiB are counted exactly."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {UNITS[unit]}"


def _stacks(report) -> str:
    """The other stacks on this store whose references count too, and those left out."""
    text = f" (also those of stack {', '.join(report.sharing)}, on the same store)" if report.sharing else ""
    if report.ignored:
        text += f"; not reading stack {', '.join(report.ignored)} (-ignore-stack): what only it refers to goes"
    return text


def duration_text(seconds: float) -> str:
    """86400 -> "24h", 5400 -> "1h30m", 90.5 -> "1m30.5s": as -grace takes it."""
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    parts = [f"{int(hours)}h" if hours else "", f"{int(minutes)}m" if minutes else "", f"{rest:g}s" if rest else ""]
    return "".join(parts) or "0s"


def _say_recent(report) -> None:
    """How many artifacts nothing refers to stay only for being recent (-grace)."""
    if report.recent:
        say(f"Kept {report.recent} artifact(s) nothing refers to for being stored in the last {duration_text(report.grace)} (-grace): "
            "a pipeline still running may be about to record them. A later gc removes them if nothing does.")


def _incomplete(report) -> str:
    """The count of incomplete uploads (objects without a completion marker) that go, if any."""
    return f" and {len(report.incomplete)} incomplete upload(s)" if report.incomplete else ""


def _say_recent_incomplete(report) -> None:
    if report.recent_incomplete:
        say(f"Kept {report.recent_incomplete} incomplete upload(s) (objects without a completion marker) written in the last "
            f"{duration_text(report.grace)} (-grace): an upload may still be in progress. A later gc removes them.")


def print_gc_report(report) -> None:
    kept_runs = ("every run" if report.keep_runs is None else
                 f"the {report.keep_runs} newest run(s): {', '.join(map(str, report.kept_runs)) or 'none recorded'}"
                 if report.keep_runs else "no run beyond the latest step records")
    recent = f", and what was stored in the last {duration_text(report.grace)}" if report.grace else ""
    say(f"zplan gc on {report.store_url}, keeping what state, outputs, resources and {kept_runs} refer to{_stacks(report)}{recent}:", "bold")
    for artifact in sorted(report.removed, key=lambda a: (-a.size, a.digest)):
        say(f"  - {artifact.digest}  {size_text(artifact.size):>10}  {artifact.uri}", "delete")
    for artifact in sorted(report.incomplete, key=lambda a: (-a.size, a.digest)):
        say(f"  - {artifact.digest}  {size_text(artifact.size):>10}  {artifact.uri}  (incomplete upload: no completion marker)", "delete")
    count, freed = len(report.removed), size_text(report.bytes_freed)
    if report.dry_run:
        say(f"Would remove {count} artifact(s){_incomplete(report)}, freeing {freed}; {report.kept} kept. Nothing was changed (dry run).", "bold")
        _say_recent(report)
        _say_recent_incomplete(report)
        return
    say(f"Removed {count} artifact(s){_incomplete(report)}, freed {freed}; {report.kept} kept.", "bold")
    _say_recent(report)
    _say_recent_incomplete(report)
    if report.dropped_cache_entries:
        say(f"Dropped {report.dropped_cache_entries} cache entr{'y' if report.dropped_cache_entries == 1 else 'ies'} "
            "naming them: their steps rerun if the configuration asks for them again.")
    for artifact, why in report.not_removed:
        say(f"  could not delete {artifact.digest}: {why}", "delete")
    if report.not_removed:
        say(f"{len(report.not_removed)} artifact(s) could not be deleted; nothing refers to them any more: "
            "make the artifact store writable and run `zplan gc` again to delete them.")
