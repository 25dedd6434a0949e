"""The file meta pynetdicom's decoder writes at the head of a spooled data set."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from pydicom.filereader import read_file_meta_info
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import dimse_messages
from pynetdicom.dsutils import create_file_meta

from garde.dicom_gateway import spool
from garde.dicom_gateway.writer import dataset_offset

SOP = UID("1.2.826.0.1.3680043.8.498.1")


def _decoder_writes_meta(fp) -> None:
    """What pynetdicom's decoder does at a C-STORE-RQ's command set (dimse_messages)."""
    fp.write(b"\x00" * 128)
    fp.write(b"DICM")
    dimse_messages.write_file_meta_info(  # type: ignore[attr-defined]
        fp,
        dimse_messages.create_file_meta(  # type: ignore[attr-defined]
            sop_class_uid=CTImageStorage,
            sop_instance_uid=SOP,
            transfer_syntax=ExplicitVRLittleEndian,
        ),
    )


def test_a_spilled_spool_starts_with_a_file_meta_pydicom_reads(tmp_path):
    spool.install()
    spooled = spool.SpooledDataset(threshold=16, directory=str(tmp_path))
    _decoder_writes_meta(spooled)
    spooled.write(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100")
    spooled.flush()
    spooled.close()
    assert not spooled.in_memory
    path = Path(spooled.name)
    meta = read_file_meta_info(path)
    assert meta.MediaStorageSOPClassUID == CTImageStorage
    assert meta.MediaStorageSOPInstanceUID == SOP
    assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
    with path.open("rb") as fp:
        offset = dataset_offset(fp)
    assert path.read_bytes()[offset:] == b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100"


def test_an_in_memory_spool_hands_over_the_data_set_alone():
    spool.install()
    spooled = spool.SpooledDataset()
    _decoder_writes_meta(spooled)
    spooled.write(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100")
    assert spooled.in_memory
    assert spooled.dataset() == b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100"


def test_any_other_file_gets_pynetdicoms_own_file_meta():
    spool.install()
    ours, theirs = BytesIO(), BytesIO()
    _decoder_writes_meta(ours)
    theirs.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(
        theirs,
        create_file_meta(
            sop_class_uid=CTImageStorage,
            sop_instance_uid=SOP,
            transfer_syntax=ExplicitVRLittleEndian,
        ),
    )
    assert ours.getvalue() == theirs.getvalue()
