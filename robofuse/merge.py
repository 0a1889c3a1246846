"""Several Sources as one: by arrival time for replay (deterministic), or by a thread each for live devices."""

from __future__ import annotations

import heapq
import queue
import threading
from collections.abc import Iterator, Sequence

from robofuse.errors import SensorError
from robofuse.messages import Modality, SourceItem
from robofuse.source import Source

_DONE = object()


class MergedSource(Source):
    """Yields the items of every child source.

    ``live=False`` merges the children's iterators by ``recv_ns`` in this thread: replay stays
    deterministic and no thread is started. ``live=True`` reads each child in a thread of its
    own and yields items as they come, since live devices block independently.
    """

    def __init__(self, sources: Sequence[Source], *, live: bool) -> None:
        super().__init__()
        if not sources:
            raise SensorError("MergedSource needs at least one source")
        names = [name for s in sources for name in s.streams]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SensorError(f"two sources produce the same streams {dupes}; give each stream its own name")
        self.sources = tuple(sources)
        self.live = live
        self._queue: queue.Queue[object] = queue.Queue(maxsize=1024)
        self._threads: list[threading.Thread] = []

    @property
    def streams(self) -> dict[str, Modality]:
        """Every child's streams."""
        return {name: m for s in self.sources for name, m in s.streams.items()}

    def _open(self) -> None:
        opened: list[Source] = []
        try:
            for source in self.sources:
                source.open()
                opened.append(source)
        except BaseException:
            for source in opened:
                source.close()
            raise

    def _close(self) -> None:
        for source in self.sources:
            source.close()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._threads = []

    def _items(self) -> Iterator[SourceItem]:
        return self._threaded() if self.live else self._by_arrival()

    def _by_arrival(self) -> Iterator[SourceItem]:
        iterators = [iter(s) for s in self.sources]
        heap: list[tuple[int, int, SourceItem]] = []
        for k, it in enumerate(iterators):
            first = next(it, None)
            if first is not None:
                heap.append((first.recv_ns, k, first))
        heapq.heapify(heap)
        while heap and self.is_open:
            _, k, item = heap[0]
            following = next(iterators[k], None)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following.recv_ns, k, following))
            yield item

    def _threaded(self) -> Iterator[SourceItem]:
        def pump(source: Source) -> None:
            try:
                for item in source:
                    self._queue.put(item)
            finally:
                self._queue.put(_DONE)

        self._threads = [threading.Thread(target=pump, args=(s,), daemon=True) for s in self.sources]
        for thread in self._threads:
            thread.start()
        running = len(self._threads)
        while running and self.is_open:
            try:
                got = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if got is _DONE:
                running -= 1
            else:
                yield got  # type: ignore[misc]
