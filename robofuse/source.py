"""The Source interface: anything that yields Samples (a driver, a topic, a bag, the simulator).

Sources are context managers in the manner of rosbags' readers: the constructor only checks
its arguments, :meth:`Source.open` does the I/O, and iteration yields :data:`SourceItem`
values in arrival order until the source ends or is closed. Input that cannot become a valid
sample is yielded as a :class:`~robofuse.messages.RejectedSample`, never dropped silently.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from types import TracebackType
from typing import TypeVar

from robofuse.errors import SensorError
from robofuse.messages import Modality, SourceItem

SourceT = TypeVar("SourceT", bound="Source")


class Source(abc.ABC):
    """Base class of every producer of samples."""

    def __init__(self) -> None:
        self._is_open = False

    @property
    @abc.abstractmethod
    def streams(self) -> dict[str, Modality]:
        """The streams this source produces, by name."""

    @abc.abstractmethod
    def _open(self) -> None:
        """Acquire the device, file or simulation. Clean up everything if it fails halfway."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release what ``_open`` acquired. Must be safe to call after a partial open."""

    @abc.abstractmethod
    def _items(self) -> Iterator[SourceItem]:
        """Yield items in arrival (``recv_ns``) order."""

    def open(self) -> None:
        """Open the source; opening an open source is a no-op."""
        if not self._is_open:
            self._open()
            self._is_open = True

    def close(self) -> None:
        """Close the source; closing a closed source is a no-op."""
        if self._is_open:
            self._is_open = False
            self._close()

    @property
    def is_open(self) -> bool:
        """Whether :meth:`open` has succeeded and :meth:`close` has not been called since."""
        return self._is_open

    def __iter__(self) -> Iterator[SourceItem]:
        if not self._is_open:
            raise SensorError(f"{type(self).__name__} is not open: use it as `with source:` or call open() first")
        return self._items()

    def __enter__(self: SourceT) -> SourceT:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
