"""A plain C-STORE answer encoded without pydicom: byte for byte pynetdicom's."""

from __future__ import annotations

import pytest
from pynetdicom.dimse_messages import C_STORE_RSP
from pynetdicom.dimse_primitives import C_STORE

from garde.dicom_gateway.response import store_response

CT = "1.2.840.10008.5.1.4.1.1.2"


def answer(
    status: int, sop_class: str | None = CT, sop_instance: str | None = "1.2.3.4"
) -> C_STORE:
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = 7
    primitive.Status = status
    if sop_class is not None:
        primitive.AffectedSOPClassUID = sop_class
    if sop_instance is not None:
        primitive.AffectedSOPInstanceUID = sop_instance
    return primitive


def pynetdicoms(primitive: C_STORE) -> bytes:
    """The command set pynetdicom sends for ``primitive`` (its PDV, control byte off)."""
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    [pdata] = list(message.encode_msg(1, 16384))
    [(_context, pdv)] = pdata.presentation_data_value_list
    assert pdv[0] == 0x03  # a command set, its last fragment
    return bytes(pdv[1:])


@pytest.mark.parametrize(
    ("status", "sop_class", "sop_instance"),
    [
        (0x0000, CT, "1.2.3.4"),  # even UID
        (0xB000, CT, "1.2.3.45"),  # odd UID: NUL padded; a warning status
        (0xA700, None, "1.2.3"),  # no SOP class
        (0x0000, "1.2", None),  # no SOP instance
    ],
)
def test_the_encoding_is_pynetdicoms(status, sop_class, sop_instance):
    primitive = answer(status, sop_class, sop_instance)
    assert store_response(primitive) == pynetdicoms(primitive)


def test_an_answer_with_an_error_comment_is_left_to_pynetdicom():
    primitive = answer(0xC210)
    primitive.ErrorComment = "header does not decode"
    assert store_response(primitive) is None


def test_a_request_is_not_an_answer():
    request = C_STORE()
    request.MessageID = 1
    request.AffectedSOPClassUID = CT
    assert store_response(request) is None
