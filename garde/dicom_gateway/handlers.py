"""pynetdicom event handlers: translate events to the intake service and back.

Bound with ``evt_handlers=[(evt.EVT_C_STORE, handle_store, [service])]``; the list is
the injection point. Notification handlers log and never raise.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pydicom.dataset import Dataset

from garde.dicom_gateway import status
from garde.dicom_gateway.intake import StoreRequest
from garde.dicom_gateway.spool import SpooledDataset
from garde.dicom_gateway.writer import FileSlice, dataset_offset

if TYPE_CHECKING:
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.events import Event

    from garde.dicom_gateway.intake import IntakeService

logger = logging.getLogger(__name__)


def handle_store(event: Event, service: IntakeService) -> int | Dataset:
    """EVT_C_STORE: hand the encoded dataset, as received, to the intake service."""
    try:
        request = cast("C_STORE", event.request)
        spool = getattr(request, "_dataset_file", None)
        spooled = getattr(request, "_dataset_path", None)
        if isinstance(spool, SpooledDataset) and spool.in_memory:
            dataset: bytes | FileSlice = spool.dataset()  # small: it never left memory
        elif spooled is not None:
            # pynetdicom's STORE_RECV_CHUNKED_DATASET: the dataset is in a temporary file
            # and encoded_dataset() would return only a file meta header (an empty
            # instance, silently). Copy it from the file instead.
            path = Path(spooled)
            with path.open("rb") as fp:
                dataset = FileSlice(path, dataset_offset(fp))
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
    outcome = service.receive(store)
    if not outcome.comment:
        return outcome.status
    response = Dataset()  # the status with its Error Comment (0000,0902): why it failed
    response.Status = outcome.status
    response.ErrorComment = _error_comment(outcome.comment)
    return response


def _error_comment(text: str) -> str:
    """An LO value: at most 64 characters, no backslash or control character."""
    cleaned = "".join(c if c.isprintable() and c != "\\" else " " for c in text).strip()
    if len(cleaned) <= 64:
        return cleaned
    cut = cleaned[:64]
    # Drop a parenthesis the limit would cut in two, else the word it would cut.
    opened = cut.rfind("(")
    end = opened if opened > cut.rfind(")") else cut.rfind(" ")
    return (cut[:end] if end > 0 else cut).strip()


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
