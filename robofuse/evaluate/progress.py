"""A rich progress bar over a known number of steps, or nothing when disabled."""

from __future__ import annotations

from typing import Any


class Bar:
    """``with Bar("what", total, enabled) as bar: bar.advance()``; rich is imported only when enabled."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.label, self.total, self.enabled = label, total, enabled
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
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self._bar.__enter__()
            self._bar.add_task(self.label, total=self.total)
        return self

    def advance(self, steps: int = 1) -> None:
        """``steps`` more done."""
        if self._bar is not None:
            self._bar.advance(self._bar.task_ids[0], steps)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
