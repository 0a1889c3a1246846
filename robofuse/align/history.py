"""A stream's recent samples, ordered by stamp, bounded in time and in count.

Lists with a moving start index: appending is O(1), trimming is O(1) amortised (the dead
prefix is deleted once it is half the list), and lookups bisect on the stamps.
"""

from __future__ import annotations

import bisect
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class History(Generic[T]):
    """Items keyed by integer stamp, ascending; ``max_items`` bounds memory whatever the input."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self.stamps: list[int] = []
        self.items: list[T] = []
        self.start = 0
        self._gone: T = cast(T, None)  # what a forgotten slot holds until the prefix is deleted

    def __len__(self) -> int:
        return len(self.stamps) - self.start

    def insert(self, stamp: int, item: T) -> str:
        """Add an item; returns "ok", "out_of_order" (inserted in place) or "duplicate" (dropped)."""
        if len(self) == 0 or stamp > self.stamps[-1]:
            self.stamps.append(stamp)
            self.items.append(item)
            status = "ok"
        else:
            i = bisect.bisect_left(self.stamps, stamp, lo=self.start)
            if i < len(self.stamps) and self.stamps[i] == stamp:
                return "duplicate"
            self.stamps.insert(i, stamp)
            self.items.insert(i, item)
            status = "out_of_order"
        if len(self) > self.max_items:
            self._forget(self.start + 1)
        return status

    def trim_before(self, stamp: int) -> int:
        """Forget items stamped before ``stamp``; returns how many."""
        i = bisect.bisect_left(self.stamps, stamp, lo=self.start)
        dropped = i - self.start
        self._forget(i)
        return dropped

    def clear(self) -> None:
        """Forget everything (after a clock reset, old stamps are in another time base)."""
        self.stamps, self.items, self.start = [], [], 0

    def range(self, lo: int, hi: int) -> tuple[list[int], list[T]]:
        """Items with ``lo <= stamp <= hi``."""
        i = bisect.bisect_left(self.stamps, lo, lo=self.start)
        j = bisect.bisect_right(self.stamps, hi, lo=i)
        return self.stamps[i:j], self.items[i:j]

    def last(self) -> tuple[int, T] | None:
        """The newest item, if any."""
        return (self.stamps[-1], self.items[-1]) if len(self) else None

    def _forget(self, new_start: int) -> None:
        """Move the start to ``new_start``, dropping the forgotten items at once (they may be camera frames)."""
        for k in range(self.start, new_start):
            self.items[k] = self._gone
        self.start = new_start
        if self.start > 64 and self.start * 2 > len(self.stamps):
            del self.stamps[: self.start]
            del self.items[: self.start]
            self.start = 0
