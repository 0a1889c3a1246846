"""A rich progress bar over a known number of steps with its rate, or nothing when disabled."""

from __future__ import annotations

from typing import Any


class Bar:
    """``with Bar("what", total, enabled, unit="windows") as bar: bar.advance()``; rich only when enabled."""

    def __init__(self, label: str, total: int, enabled: bool, unit: str = "") -> None:
        self.label, self.total, self.enabled, self.unit = label, total, enabled, unit
        self._bar: Any = None

    def __enter__(self) -> Bar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self._bar.__enter__()
            self._bar.add_task(self.label, total=self.total, rate="")
        return self

    def advance(self, steps: int = 1) -> None:
        """``steps`` more done; the rate shown follows rich's running estimate."""
        if self._bar is not None:
            task = self._bar.task_ids[0]
            self._bar.advance(task, steps)
            speed = self._bar.tasks[0].speed
            self._bar.update(task, rate="" if speed is None else f"{speed:.0f}/s")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
