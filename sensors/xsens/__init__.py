"""Xsens MTi inertial sensors over the Xbus protocol (MT Low-Level Communication Protocol).

``xbus`` frames and checks messages; ``mtdata2`` decodes the measurement message and turns it
into ImuSample fields in robofuse's conventions. A parser for an MTi stream::

    parser = XbusParser(decode=MtData2Decoder())
    for item in parser.feed(port.read(4096)):  # MtData2, or an XbusMessage (acks, errors)
        ...
"""

from sensors.xsens.mtdata2 import (
    EarthFrame,
    ImuPayload,
    MtData2,
    MtData2Decoder,
    NumberFormat,
    RealItem,
    SampleTimeFineUnwrapper,
    decode_mtdata2,
    to_imu_payload,
)
from sensors.xsens.xbus import MessageId, XbusMessage, XbusParser, ack_of, frame

__all__ = [
    "EarthFrame",
    "ImuPayload",
    "MessageId",
    "MtData2",
    "MtData2Decoder",
    "NumberFormat",
    "RealItem",
    "SampleTimeFineUnwrapper",
    "XbusMessage",
    "XbusParser",
    "ack_of",
    "decode_mtdata2",
    "frame",
    "to_imu_payload",
]
