"""The fill command's screen: one rich progress bar per symbol (windows done of total, bars so far, the job's eta)
and a line per symbol when it is done or failed. On a terminal the bars move; elsewhere (a pipe, a log) only the
result lines are printed."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn


class FillDisplay:
    def __init__(self, symbols: list[str], console: Console) -> None:
        self.console = console
        self._progress = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("windows"), TextColumn("{task.fields[bars]:>9} bars"),
                                  TextColumn("{task.fields[eta]}"), console=console, transient=False)
        self._tasks: dict[str, TaskID] = {s: self._progress.add_task(s, total=None, bars=0, eta="") for s in symbols}
        self._announced: set[tuple[str, str]] = set()  # (symbol, job id) already named in a line

    def __enter__(self) -> FillDisplay:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._progress.stop()

    def job(self, symbol: str, job: dict[str, Any]) -> None:
        if (symbol, str(job.get("id"))) not in self._announced:  # a line a log (or Ctrl-C's cancel) can refer to
            self._announced.add((symbol, str(job.get("id"))))
            self.say(f"{symbol}: job {job.get('id')} {job.get('state', '?')}, {_number(job.get('total'))} windows")
        eta = job.get("eta_seconds")
        eta_text = f"eta {_duration(eta)}" if isinstance(eta, int | float) and job.get("state") != "done" else ""
        self._progress.update(self._tasks[symbol], completed=_number(job.get("done")),
                              total=_number(job.get("total")) or None, bars=_number(job.get("bars_so_far")),
                              eta=f"{job.get('state', '?')} {eta_text}".strip())

    def done(self, symbol: str, bars: int) -> None:
        task = self._progress.tasks[self._tasks[symbol]]
        total = task.total or 1
        self._progress.update(self._tasks[symbol], completed=total, total=total, bars=bars, eta="done")
        self.say(f"{symbol}: done, {bars} bars")

    def failed(self, symbol: str, code: str, message: str) -> None:
        self._progress.update(self._tasks[symbol], eta=f"failed: {code}")
        self.say(f"{symbol}: failed: {code}: {message}")

    def say(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _duration(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
