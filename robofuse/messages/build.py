"""Building a sample where bad input must not be lost: the sample, or the record of why not."""

from __future__ import annotations

from typing import Any

from robofuse.errors import SampleError
from robofuse.messages.samples import RejectedSample, Sample, SourceItem


def sample_or_rejection(cls: type[Sample], **fields: Any) -> SourceItem:
    """``cls(**fields)``, or the :class:`RejectedSample` saying why it could not be built.

    What sources call for every measurement, so that a NaN or a corrupt payload costs one
    sample, is counted downstream, and never raises out of a read loop.
    """
    try:
        return cls(**fields)
    except SampleError as err:
        return RejectedSample(
            stream=str(fields.get("stream", "?")),
            recv_ns=int(fields.get("recv_ns", 0)),
            reason=str(err),
            stamp_ns=fields.get("stamp_ns"),
            seq=fields.get("seq"),
        )
