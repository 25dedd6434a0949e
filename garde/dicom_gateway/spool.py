"""Where pynetdicom puts a C-STORE data set while it arrives: memory, then disk.

With ``_config.STORE_RECV_CHUNKED_DATASET`` pynetdicom writes each received data set to a
``NamedTemporaryFile`` (file meta first, then every P-DATA fragment, flushed) instead of
a growing ``BytesIO``, so a 512 MB instance costs no more memory than a small one. But
for the 0.5 MB CT slices of a normal night, the temporary file costs more than the
whole durable write (a file created, written in 16 kB flushes, read back and unlinked
per instance). `SpooledDataset` keeps the first ``threshold`` bytes in memory and moves
to a temporary file only past it: memory per association stays bounded by the
threshold, and small instances never touch the disk twice.

`install` puts it in place of the ``NamedTemporaryFile`` pynetdicom's DIMSE decoder
calls (process-wide, like `pynetdicom._config`), and has the file meta the decoder
writes first into a spool encoded by `garde.dicom_gateway.header.file_meta` (pydicom's
``create_file_meta`` and ``write_file_meta_info`` took about a sixth of a gateway
worker's CPU per instance, for bytes the handler skips). The C-STORE handler then asks the
request's ``_dataset_file`` whether its data is in memory (`in_memory`). Any other
C-STORE handler in a process where it is installed (the priors receiver runs in serve's)
must do the same, or call `received_dataset`: while the data set is in memory,
``event.dataset_path`` names no file and ``event.dataset`` fails.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zlib
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any, BinaryIO

from pydicom.filereader import read_dataset
from pydicom.filewriter import write_file_meta_info
from pynetdicom import dimse_messages
from pynetdicom.dsutils import create_file_meta

from garde.dicom_gateway.header import file_meta
from garde.dicom_gateway.writer import dataset_offset

if TYPE_CHECKING:
    from pydicom import Dataset
    from pydicom.uid import UID
    from pynetdicom.events import Event

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 8 << 20  # bytes held in memory per association before spilling
_HEAD = 144  # preamble, "DICM" and the file meta group length element
_PREAMBLE = 132  # preamble and "DICM": pynetdicom writes them before the file meta


class SpooledDataset:
    """A write-only file: in memory up to ``threshold`` bytes, then a temporary file.

    It answers what pynetdicom uses of a ``NamedTemporaryFile``: ``name`` (a path
    reserved in the temporary directory, created only on spilling), ``write``,
    ``file.flush`` and ``close``. pynetdicom unlinks ``name`` after the handler ran
    (ignoring an error when nothing was created).
    """

    def __init__(self, threshold: int = DEFAULT_THRESHOLD, directory: str | None = None) -> None:
        self.threshold = threshold
        self.name = os.path.join(  # noqa: PTH118 - pynetdicom wraps it in a Path itself
            directory or tempfile.gettempdir(), f"garde-spool-{os.urandom(8).hex()}.dcm"
        )
        self.file = self  # pynetdicom calls ``file.flush()``
        self._memory: bytearray | None = bytearray()
        self._disk: BinaryIO | None = None

    @property
    def in_memory(self) -> bool:
        """True while nothing was spilled to disk."""
        return self._memory is not None

    def dataset(self) -> bytes:
        """The data set written after the file meta, when `in_memory` (one copy)."""
        if self._memory is None:
            raise RuntimeError(f"the data set was spilled to {self.name}")
        with memoryview(self._memory) as view:
            return bytes(view[dataset_offset(BytesIO(view[:_HEAD])) :])

    def write(self, data: Any) -> int:
        """Append ``data``; past the threshold, move everything to the temporary file."""
        if self._memory is not None:
            self._memory += data
            if len(self._memory) > self.threshold:
                self._disk = open(self.name, "xb")  # noqa: PTH123, SIM115 - closed in close()
                self._disk.write(self._memory)
                self._memory = None
            return len(data)
        assert self._disk is not None
        return self._disk.write(data)

    def flush(self) -> None:
        """Flush the temporary file (once spilled) so a reader by name sees it all."""
        if self._disk is not None:
            self._disk.flush()

    def close(self) -> None:
        """Close the temporary file, if any; drop the memory."""
        self._memory = None
        if self._disk is not None:
            self._disk.close()


def install(threshold: int = DEFAULT_THRESHOLD) -> None:
    """Make pynetdicom's DIMSE decoder spool C-STORE data sets with `SpooledDataset`."""

    def spooled(*_args: object, **_kwargs: object) -> SpooledDataset:
        return SpooledDataset(threshold)

    dimse_messages.NamedTemporaryFile = spooled  # type: ignore[attr-defined,assignment]
    dimse_messages.create_file_meta = _MetaRequest  # type: ignore[attr-defined,assignment]
    dimse_messages.write_file_meta_info = _write_file_meta  # type: ignore[attr-defined,assignment]


@dataclass(frozen=True, slots=True)
class _MetaRequest:
    """What pynetdicom's decoder asks ``create_file_meta`` for, kept until it is written
    (its own keyword arguments: the request's UIDs, unchecked, and the context's syntax)."""

    sop_class_uid: UID
    sop_instance_uid: UID
    transfer_syntax: UID


def _write_file_meta(fp: Any, meta: Any, enforce_standard: bool = True) -> None:
    """pydicom's ``write_file_meta_info`` as pynetdicom's decoder calls it: into a spool,
    the same group encoded by `file_meta`; anywhere else (or for UIDs it cannot encode),
    pynetdicom's own file meta written by pydicom."""
    if isinstance(meta, _MetaRequest):
        if isinstance(fp, SpooledDataset):
            try:
                encoded = file_meta(
                    meta.sop_class_uid, meta.sop_instance_uid, meta.transfer_syntax, ""
                )
            except Exception:  # noqa: BLE001 - a hostile UID: pydicom's way below
                logger.debug("file meta of a spooled data set written by pydicom")
            else:
                fp.write(encoded[_PREAMBLE:])
                return
        meta = create_file_meta(
            sop_class_uid=meta.sop_class_uid,
            sop_instance_uid=meta.sop_instance_uid,
            transfer_syntax=meta.transfer_syntax,
        )
    write_file_meta_info(fp, meta, enforce_standard)


def received_dataset(event: Event) -> Dataset:
    """A C-STORE request's data set (with its file meta), wherever the decoder put it."""
    spool = getattr(event.request, "_dataset_file", None)
    if isinstance(spool, SpooledDataset) and spool.in_memory:
        syntax = event.context.transfer_syntax
        data = spool.dataset()
        if syntax.is_deflated:
            data = zlib.decompress(data, -zlib.MAX_WBITS)
        ds = read_dataset(
            BytesIO(data),
            is_implicit_VR=syntax.is_implicit_VR,
            is_little_endian=syntax.is_little_endian,
        )
    else:
        ds = event.dataset
    ds.file_meta = event.file_meta
    return ds
