"""The driver base: a device read by a background thread into a bounded queue, as a Source.

In the manner of lerobot's cameras: ``open`` connects (and cleans up if that fails halfway),
a read thread stamps data the moment it arrives (``recv_ns`` from the host's monotonic clock),
keeps the newest items in a bounded queue (dropping the oldest, counted, if the consumer falls
behind; a recording, ``keep_all``, waits for its consumer instead), ends when a subclass says its
source is exhausted (``_end``), and reconnects with exponential backoff after a device error. Iterating the Source
yields items from the queue until it is closed.
"""

from __future__ import annotations

import abc
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from robofuse.errors import SensorError
from robofuse.messages import SourceItem
from robofuse.source import Source

POLL_S = 0.05  # how often a blocked reader or consumer checks whether the source was closed


@dataclass
class DriverCounters:
    """What a driver has done since it was made."""

    items: int = 0  # samples (and rejections) put in the queue
    queue_drops: int = 0  # oldest items dropped because the consumer fell behind
    device_errors: int = 0
    reconnects: int = 0


class Driver(Source):
    """Base of every hardware driver: subclasses implement connect, read and disconnect."""

    def __init__(
        self, *, queue_size: int = 256, backoff_s: tuple[float, float] = (0.1, 2.0), keep_all: bool = False
    ) -> None:
        super().__init__()
        if queue_size < 1:
            raise SensorError(f"queue_size must be >= 1, got {queue_size}")
        self.counters = DriverCounters()
        self.last_error: str = ""
        self._queue: queue.Queue[SourceItem] = queue.Queue(maxsize=queue_size)
        self._keep_all = keep_all  # a recording waits for its consumer; a live device drops the oldest
        self.ended = False  # the source is exhausted (a recording read to its end)
        self._backoff = backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abc.abstractmethod
    def _connect(self) -> None:
        """Open the device. Raise SensorError (with what to do) if it cannot be opened."""

    @abc.abstractmethod
    def _disconnect(self) -> None:
        """Release the device; safe to call when it is half open or already closed."""

    @abc.abstractmethod
    def _read(self) -> list[SourceItem]:
        """Block up to about POLL_S for data; return the items it completed (maybe none).

        Raise SensorError or OSError when the device fails: the base reconnects.
        """

    def _open(self) -> None:
        try:
            self._connect()
        except BaseException:
            self._disconnect()
            raise
        self._stop.clear()
        self.ended = False
        self._thread = threading.Thread(target=self._run, name=f"{type(self).__name__}-reader", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5 * POLL_S + max(self._backoff))
            self._thread = None
        self._disconnect()

    def _end(self) -> None:
        """Called by a subclass whose source is exhausted: iteration ends once the queue is drained."""
        self.ended = True

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set() and not self.ended:
            try:
                for item in self._read():
                    self._put(item)
                delay = self._backoff[0]
            except (SensorError, OSError) as err:
                self.counters.device_errors += 1
                self.last_error = str(err)
                self._disconnect()
                while not self._stop.wait(delay):
                    delay = min(delay * 2, self._backoff[1])
                    try:
                        self._connect()
                    except (SensorError, OSError) as again:
                        self.last_error = str(again)
                        continue
                    self.counters.reconnects += 1
                    break

    def _put(self, item: SourceItem) -> None:
        while self._keep_all and not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_S)
                self.counters.items += 1
                return
            except queue.Full:
                continue
        while not self._keep_all:
            try:
                self._queue.put_nowait(item)
                self.counters.items += 1
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()  # the newest data matters most: drop the oldest
                    self.counters.queue_drops += 1
                except queue.Empty:
                    pass

    def _items(self) -> Iterator[SourceItem]:
        while self.is_open:
            try:
                yield self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if self.ended:  # the reader queued its last item before it set ended
                    return


def now_ns() -> int:
    """The host's monotonic clock, the clock every ``recv_ns`` is in."""
    return time.monotonic_ns()
