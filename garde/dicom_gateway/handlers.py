"""pynetdicom event handlers: translate events to the intake service and back.

Bound with ``evt_handlers=[(evt.EVT_C_STORE, handle_store, [service])]``; the list is
the injection point. Notification handlers log and never raise.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

from garde.dicom_gateway import status
from garde.dicom_gateway.intake import StoreRequest
from garde.dicom_gateway.writer import FileSlice

if TYPE_CHECKING:
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.events import Event

    from garde.dicom_gateway.intake import IntakeService

logger = logging.getLogger(__name__)

_META_GROUP_LENGTH_AT = 140  # preamble (128) + "DICM" (4) + tag (4) + "UL" (2) + length (2)


def handle_store(event: Event, service: IntakeService) -> int:
    """EVT_C_STORE: hand the encoded dataset, as received, to the intake service."""
    try:
        request = cast("C_STORE", event.request)
        spooled = getattr(request, "_dataset_path", None)
        if spooled is not None:
            # pynetdicom's STORE_RECV_CHUNKED_DATASET: the dataset is in a temporary file
            # and encoded_dataset() would return only a file meta header (an empty
            # instance, silently). Copy it from the file instead.
            path = Path(spooled)
            dataset: bytes | FileSlice = FileSlice(path, _dataset_offset(path))
        else:
            dataset = event.encoded_dataset(include_meta=False)
        store = StoreRequest(
            sop_class_uid=str(request.AffectedSOPClassUID or ""),
            sop_instance_uid=str(request.AffectedSOPInstanceUID or ""),
            transfer_syntax=str(event.context.transfer_syntax),
            calling_ae=str(event.assoc.requestor.ae_title).strip(),
            dataset=dataset,
        )
    except Exception:
        logger.exception("could not read a C-STORE request")
        return status.HANDLER_ERROR
    return service.store(store)


def handle_released(event: Event) -> None:
    """EVT_RELEASED / EVT_ABORTED: log the end of an association (never raises)."""
    try:
        logger.info(
            "association with %s (AE %s) ended: %s",
            event.assoc.requestor.address,
            str(event.assoc.requestor.ae_title).strip(),
            event.event.name,
        )
    except Exception:
        logger.debug("could not log the end of an association", exc_info=True)


def _dataset_offset(path: Path) -> int:
    """Where the dataset starts in a file pynetdicom spooled (after its file meta)."""
    with path.open("rb") as fp:
        head = fp.read(_META_GROUP_LENGTH_AT + 4)
    if head[128:132] != b"DICM" or head[132:136] != b"\x02\x00\x00\x00":
        raise ValueError("spooled dataset has no file meta group length")
    group_length = int.from_bytes(head[_META_GROUP_LENGTH_AT:], "little")
    return _META_GROUP_LENGTH_AT + 4 + group_length
