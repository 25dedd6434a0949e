"""A P-DATA-TF PDU's body read straight into the primitive pynetdicom's decoding makes."""

from __future__ import annotations

import struct

import pytest
from pynetdicom.pdu import P_DATA_TF

from garde.dicom_gateway.reactor import _p_data


def pdv(context_id: int, data: bytes) -> bytes:
    return struct.pack(">LB", len(data) + 1, context_id) + data


def pynetdicoms(body: bytes) -> list[tuple[int, bytes]]:
    pdu = P_DATA_TF()
    pdu.decode(struct.pack(">BBL", 0x04, 0, len(body)) + body)
    return list(pdu.to_primitive().presentation_data_value_list)


@pytest.mark.parametrize(
    "body",
    [
        pdv(1, b"\x03" + b"\x00\x00\x00\x00\x04\x00\x00\x00\x10\x00\x00\x00"),  # a command
        pdv(3, b"\x00" + bytes(range(256)) * 64),  # a data set fragment
        pdv(1, b"\x01abc") + pdv(1, b"\x03de") + pdv(5, b"\x02" + b"x" * 999),  # three PDVs
    ],
)
def test_the_primitive_is_pynetdicoms(body):
    primitive = _p_data(body)
    assert primitive is not None
    assert primitive.presentation_data_value_list == pynetdicoms(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no PDV at all
        b"\x00\x00",  # a truncated item length
        struct.pack(">LB", 1, 1),  # a PDV without its message control header
        pdv(1, b"\x02abc")[:-1],  # an item longer than the PDU
        pdv(1, b"\x02abc") + b"\x00\x00\x00\x09\x01",  # a second one cut short
    ],
)
def test_a_malformed_body_is_left_to_pynetdicom(body):
    assert _p_data(body) is None
