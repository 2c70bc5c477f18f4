"""Progress of an apply: a live rich table on a terminal, one line per event otherwise."""

from __future__ import annotations

import sys
import time

from zplan.hooks import Hooks
from zplan.render.console import console


def complete_line(summary: dict, destroying: bool) -> str:
    """``Apply complete: 4 ok.`` / ``Destroy complete: 2 destroyed.`` (counts by outcome);
    ``Apply failed: 1 ok, 1 failed.`` when anything failed (never "complete", as Terraform);
    ``Apply interrupted (SIGINT): ...`` when a signal stopped it."""
    counts = {k: v for k, v in summary.items() if k not in ("run", "interrupted")}
    ended = "failed" if counts.get("failed") else "complete"
    if summary.get("interrupted"):
        import signal

        ended = f"interrupted ({signal.Signals(summary['interrupted']).name})"
    if destroying:
        parts = ", ".join(f"{v} {'destroyed' if k == 'ok' else k}" for k, v in counts.items())
        return f"Destroy {ended}: {parts or '0 destroyed'}."
    parts = ", ".join(f"{v} {k}" for k, v in counts.items())
    return f"Apply {ended}: {parts or 'nothing to do'}."


def adopted_view(addresses: list[str]) -> None:
    for address in addresses:
        sys.stderr.write(f"Note: {address} was left running by an apply killed before it could record it; adopted.\n")


class LockWaitView:
    """The line saying whom a command waits for: about once a second on a terminal; in a log
    (CI) once, then every 30 s, so a five-minute -lock-timeout is ten lines, not three hundred."""

    LOG_EVERY = 30.0

    def __init__(self) -> None:
        self._last: float | None = None

    def __call__(self, holder, seconds_left: float) -> None:
        now = time.monotonic()
        every = 0.0 if sys.stderr.isatty() else self.LOG_EVERY
        if self._last is not None and now - self._last < every:
            return
        self._last = now
        who = holder.describe() if holder else "another process"
        sys.stderr.write(f"Waiting for the state lock ({who}); {seconds_left:.0f}s left\n")


def stale_lock_view(holder) -> None:
    sys.stderr.write(f"Warning: taking over a stale state lock left by a process that is gone ({holder.describe()})\n")


class PlainView(Hooks):
    """Line-per-event output for CI logs (stable, greppable)."""

    def __init__(self, out=None, destroying: bool = False) -> None:
        self.out = out or sys.stdout
        self.destroying = destroying

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def run_started(self, run_id, steps, resources) -> None:
        self._line(f"run {run_id}: {steps} step(s), {resources} resource change(s)")

    def resource_started(self, address, action) -> None:
        self._line(f"{address}: {action} started")

    def resource_finished(self, address, action, ok, seconds, error) -> None:
        self._line(f"{address}: {action} {'done' if ok else 'FAILED'} in {seconds:.1f}s" + (f"\n  {error}" if error else ""))

    def step_started(self, address) -> None:
        self._line(f"{address}: running")

    def step_cached(self, address, reason) -> None:
        self._line(f"{address}: {reason}")

    def step_finished(self, address, ok, seconds, error, trace, log) -> None:
        if ok:
            self._line(f"{address}: done in {seconds:.2f}s")
            return
        self._line(f"{address}: FAILED after {seconds:.2f}s: {error}")
        if trace:
            self._line("  " + trace.rstrip().replace("\n", "\n  "))
        if log:
            self._line(f"  step output: {log}")

    def notice(self, text) -> None:
        self._line(text)

    def step_skipped(self, address, because) -> None:
        self._line(f"{address}: skipped ({because})")

    def step_stopped(self, address, seconds, why) -> None:
        self._line(f"{address}: stopped after {seconds:.2f}s ({why})")

    def run_finished(self, summary) -> None:
        self._line(complete_line(summary, self.destroying))


class LiveView(PlainView):
    """A live table of running steps above the event log, for terminals."""

    def __init__(self, destroying: bool = False) -> None:
        super().__init__(destroying=destroying)
        from rich.live import Live

        self._running: dict[str, float] = {}
        self._console = console()
        self._live = Live(self._render(), console=self._console, refresh_per_second=8, transient=True)
        self._live.start()

    def _render(self):
        from rich.table import Table
        from rich.text import Text

        # Text cells, not markup: a line printed above the table (markup off, as an address may
        # hold brackets: step.train["a"]) redraws the table with the same options
        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        for addr, t0 in sorted(self._running.items()):
            table.add_row(Text("running", style="yellow"), Text(addr), Text(f"{now - t0:.1f}s"))
        return table

    def _line(self, text: str) -> None:
        self._live.update(self._render(), refresh=True)  # first: printing the line redraws the table as last drawn
        self._console.print(text, highlight=False, markup=False)

    def step_started(self, address) -> None:
        self._running[address] = time.monotonic()
        self._live.update(self._render())

    def step_finished(self, address, ok, seconds, error, trace, log) -> None:
        self._running.pop(address, None)
        super().step_finished(address, ok, seconds, error, trace, log)

    def step_stopped(self, address, seconds, why) -> None:
        self._running.pop(address, None)
        super().step_stopped(address, seconds, why)

    def resource_started(self, address, action) -> None:
        self._running[address] = time.monotonic()
        super().resource_started(address, action)

    def resource_finished(self, address, action, ok, seconds, error) -> None:
        self._running.pop(address, None)
        super().resource_finished(address, action, ok, seconds, error)

    def run_finished(self, summary) -> None:
        self._live.stop()
        super().run_finished(summary)

    def close(self) -> None:
        self._live.stop()
