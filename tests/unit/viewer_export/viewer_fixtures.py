"""Synthetic DICOM images for the preview tests (coded names; legend in tests/data/README.md).

Every call returns a fresh dataset, round-tripped through bytes so what the tests render
is what a sender would have written. No patient data: the helper's synthetic patient.
"""

from __future__ import annotations

import io

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from tests.helpers import make_dataset

ROWS, COLUMNS = 48, 64


def roundtrip(ds: Dataset) -> Dataset:
    """Write ``ds`` to bytes and read it back."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return dcmread(buffer)


def _ramp(low: int, high: int, dtype: str) -> np.ndarray:
    """Every value from low to high across the image (wrapping), as ``dtype``."""
    values = np.linspace(low, high, ROWS * COLUMNS).round()
    return values.astype(dtype).reshape(ROWS, COLUMNS)


def _lut_item(first: int, data: np.ndarray, bits: int) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(data) % 65536, first, bits]
    item.LUTData = [int(v) for v in data]
    item["LUTDescriptor"].VR = "US"
    item["LUTData"].VR = "US"
    return item


def make_image(code: str) -> Dataset:
    """The synthetic image named ``code`` (see tests/data/README.md)."""
    ds = make_dataset(rows=ROWS, columns=COLUMNS, sop_uid=generate_uid())
    if code == "CT16S-RESCALE":  # signed 12 of 16 bits, HU through rescale, brain window
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = 0
        ds.PixelData = _ramp(-2048, 2047, "<i2").tobytes()
        ds.WindowCenter, ds.WindowWidth = 40, 400
    elif code == "CT16U-SLOPE":  # slope 0.5, intercept -1000, width in the middle
        ds.RescaleSlope, ds.RescaleIntercept = 0.5, -1000
        ds.PixelData = _ramp(0, 4095, "<u2").tobytes()
        ds.WindowCenter, ds.WindowWidth = -200, 700
    elif code == "CT16U-MLUT":  # Modality LUT Sequence instead of rescale
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.PixelData = _ramp(0, 1023, "<u2").tobytes()
        ds.ModalityLUTSequence = Sequence([_lut_item(100, (np.arange(700) * 5) % 4096, 12)])
        ds.ModalityLUTSequence[0].ModalityLUTType = "HU"
        ds.WindowCenter, ds.WindowWidth = 1500, 2000
    elif code == "CR12U-VLUT-M1":  # MONOCHROME1 radiograph with a VOI LUT Sequence
        ds.Modality = "CR"
        del ds.RescaleSlope, ds.RescaleIntercept, ds.WindowCenter, ds.WindowWidth
        ds.PhotometricInterpretation = "MONOCHROME1"
        ds.PixelData = _ramp(0, 4095, "<u2").tobytes()
        curve = (np.sqrt(np.arange(3000) / 2999) * 4095).round()
        ds.VOILUTSequence = Sequence([_lut_item(500, curve, 12)])
    elif code == "CR12U-WINDOW-M1":  # MONOCHROME1 radiograph with a window
        ds.Modality = "CR"
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.PhotometricInterpretation = "MONOCHROME1"
        ds.PixelData = _ramp(0, 4095, "<u2").tobytes()
        ds.WindowCenter, ds.WindowWidth = 2000, 3000
    elif code == "MR16U-SIGMOID":
        ds.Modality = "MR"
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.BitsStored, ds.HighBit = 16, 15
        ds.PixelData = _ramp(0, 3000, "<u2").tobytes()
        ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 1200, 900, "SIGMOID"
    elif code == "MR16U-LINEAR-EXACT":
        ds.Modality = "MR"
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.PixelData = _ramp(0, 3000, "<u2").tobytes()
        ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 1200.5, 1.5, "LINEAR_EXACT"
    elif code == "US8U-NOWINDOW":  # 8 bits, no window: min/max
        ds.Modality = "US"
        del ds.RescaleSlope, ds.RescaleIntercept, ds.WindowCenter, ds.WindowWidth
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = _ramp(37, 201, "u1").tobytes()
    elif code == "CT16U-HIGHBITS":  # garbage above Bits Stored must be masked
        pixels = _ramp(0, 4095, "<u2") | np.uint16(0xA000)
        ds.PixelData = pixels.tobytes()
        ds.WindowCenter, ds.WindowWidth = 0, 2000
    else:
        raise KeyError(code)
    return roundtrip(ds)


CODES = (
    "CT16S-RESCALE",
    "CT16U-SLOPE",
    "CT16U-MLUT",
    "CR12U-VLUT-M1",
    "CR12U-WINDOW-M1",
    "MR16U-SIGMOID",
    "MR16U-LINEAR-EXACT",
    "US8U-NOWINDOW",
    "CT16U-HIGHBITS",
)


def make_enhanced(frames: int = 3) -> Dataset:
    """Enhanced-CT-like multi-frame: per-frame rescale and window (code CT-MF-PERFRAME)."""
    ds = make_dataset(rows=ROWS, columns=COLUMNS, sop_uid=generate_uid())
    for keyword in (
        "RescaleSlope",
        "RescaleIntercept",
        "WindowCenter",
        "WindowWidth",
        "ImagePositionPatient",
    ):
        delattr(ds, keyword)
    ds.NumberOfFrames = frames
    ds.PixelData = np.concatenate([_ramp(0, 4095, "<u2") for _ in range(frames)]).tobytes()
    per_frame = []
    for n in range(frames):
        transform = Dataset()
        transform.RescaleSlope, transform.RescaleIntercept = 1, -1024 + 100 * n
        transform.RescaleType = "HU"
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = 40 + 200 * n, 400
        position = Dataset()
        position.ImagePositionPatient = [0.0, 0.0, float(frames - n)]  # stored reversed
        item = Dataset()
        item.PixelValueTransformationSequence = Sequence([transform])
        item.FrameVOILUTSequence = Sequence([voi])
        item.PlanePositionSequence = Sequence([position])
        per_frame.append(item)
    shared = Dataset()
    orientation = Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    return roundtrip(ds)
