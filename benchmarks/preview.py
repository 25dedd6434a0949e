"""Preview benchmark: a synthetic 300-slice 512x512 CT through the rendering pipeline.

Prints JSON. Measured in the same run: the stages per slice (parse, decode, LUT, resize,
encode), the whole thumbnail path per slice, a montage, a thick-slab MIP, a whole study's
previews from "stable" (header scan of every slice, thumbnail, key image, montage, MIP,
page), dcmj2pnm converting the same slices (one process per slice, as a shell loop or
Orthanc-style plugin would), and the floor: reading the file and JPEG-encoding a 256 px
image of it with no DICOM parsing and no windowing (the high byte of each pixel).

    .venv/bin/python benchmarks/preview.py                 # full size, one core
    .venv/bin/python benchmarks/preview.py --slices 40     # quick
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import wait
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from garde.config.model import PreviewSettings
from garde.viewer_export import (
    PreviewPool,
    StudyPageInfo,
    Window,
    render_series_thumbnail,
    render_study,
)
from garde.viewer_export.image_io import encode, resize, shrink_factor
from garde.viewer_export.pixels import decode_frame, read_dataset
from garde.viewer_export.render import SeriesRenderer
from garde.viewer_export.series import scan_series
from garde.viewer_export.study import ProductSizes, render_series

BRAIN = Window(40, 80)


def make_ct(folder: Path, slices: int, size: int) -> list[Path]:
    """A head-like phantom: air, a skull ring, brain with a slowly moving lesion."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.hypot(yy - size / 2, xx - size / 2) / (size / 2)
    rng = np.random.default_rng(7)
    paths = []
    for n in range(slices):
        hu = np.where(r < 0.8, 35.0, -1000.0)
        hu = np.where((r >= 0.8) & (r < 0.88), 1200.0, hu)
        lesion = np.hypot(yy - size * (0.3 + 0.4 * n / slices), xx - size * 0.6) < size * 0.05
        hu = np.where(lesion & (r < 0.8), 70.0, hu) + rng.normal(0, 4, hu.shape)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.Modality, ds.StudyDescription, ds.SeriesDescription = "CT", "ANGIO TSA", "AXIAL 1MM"
        ds.InstanceNumber, ds.SeriesNumber = n + 1, 2
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.WindowCenter, ds.WindowWidth = 40, 80
        ds.ImagePositionPatient = [0.0, 0.0, float(n)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.45, 0.45], 1.0
        ds.PixelData = np.clip(hu + 1024, 0, 4095).astype("<u2").tobytes()
        path = folder / f"IM{n:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def best(fn, repeat: int) -> float:
    """Best of ``repeat`` wall times of ``fn()``, seconds (least disturbed by neighbours)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def stages(paths: list[Path], thumb_px: int) -> dict[str, float]:
    """Per-slice stage times (ms, median over the slices), and the whole path per slice."""
    renderer = SeriesRenderer(window=BRAIN)
    parse, decode, lut, size, enc, whole = [], [], [], [], [], []
    first = read_dataset(paths[0], headers_only=True)
    shrink = shrink_factor(int(first.Rows), int(first.Columns), thumb_px)
    for path in paths:
        t0 = time.perf_counter()
        ds = read_dataset(path)
        t1 = time.perf_counter()
        stored, _ = decode_frame(ds)
        t2 = time.perf_counter()
        grey = renderer.render_decoded(ds, stored, "MONOCHROME2", shrink=shrink)
        t3 = time.perf_counter()
        small = resize(grey, thumb_px)
        t4 = time.perf_counter()
        encode(small, "JPEG", 85)
        t5 = time.perf_counter()
        for bucket, value in zip(
            (parse, decode, lut, size, enc),
            (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4),
            strict=True,
        ):
            bucket.append(value * 1000)
        whole.append((t5 - t0) * 1000)
    out = {
        k: statistics.median(v)
        for k, v in zip(
            ("parse", "decode", "lut", "resize", "encode"),
            (parse, decode, lut, size, enc),
            strict=True,
        )
    }
    out["whole"] = statistics.median(whole)
    out["whole_mean"] = statistics.fmean(whole)
    return out


def floor_per_slice(paths: list[Path], size: int, thumb_px: int) -> float:
    """Read + view the pixels + 256 px JPEG, no parsing or windowing (median ms per slice)."""
    count = size * size
    times = []
    for path in paths:
        start = time.perf_counter()
        data = path.read_bytes()  # Pixel Data is the last element: its bytes end the file
        pixels = np.frombuffer(data, "<u2", count, len(data) - 2 * count).reshape(size, size)
        high = (pixels >> 4).astype(np.uint8)
        encode(resize(high, thumb_px), "JPEG", 85)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def dcmj2pnm_per_slice(paths: list[Path], out: Path, sample: int) -> float | None:
    exe = shutil.which("dcmj2pnm")
    if exe is None:
        return None
    chosen = paths[:: max(len(paths) // sample, 1)][:sample]
    start = time.perf_counter()
    for n, path in enumerate(chosen):
        subprocess.run(
            [exe, "+Ww", "40", "80", "+Sxv", "256", "+oj", str(path), str(out / f"d{n}.jpg")],
            check=True,
            capture_output=True,
        )
    return (time.perf_counter() - start) * 1000 / len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dcmtk-sample", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="a tiny series, for CI")
    args = parser.parse_args()
    if args.smoke:
        args.slices, args.size, args.repeat, args.dcmtk_sample = 24, 128, 1, 2
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says

    work = Path(tempfile.mkdtemp(prefix="garde-bench-preview-"))
    try:
        paths = make_ct(work / "ct", args.slices, args.size)
        settings = PreviewSettings(dir=work / "out")
        sizes = ProductSizes.from_settings(settings)
        stages(paths[:20], sizes.thumbnail_px)  # warm caches and imports
        stage = min(
            (stages(paths, sizes.thumbnail_px) for _ in range(args.repeat)),
            key=lambda s: s["whole"],
        )
        floor = min(
            floor_per_slice(paths, args.size, sizes.thumbnail_px) for _ in range(args.repeat)
        )
        dcmtk = dcmj2pnm_per_slice(paths, work, args.dcmtk_sample)

        scanned = scan_series(paths)
        out = work / "out"
        montage_s = best(
            lambda: render_series(
                scanned, out, sizes=ProductSizes(montage_slices=16), window=BRAIN
            ),
            args.repeat,
        )
        only_key = best(
            lambda: render_series(scanned, out, sizes=ProductSizes(montage_slices=1), window=BRAIN),
            args.repeat,
        )
        with_mip = best(
            lambda: render_series(
                scanned, out, sizes=ProductSizes(montage_slices=1), window=BRAIN, mip_slab_mm=15.0
            ),
            args.repeat,
        )
        thumb_series_s = best(
            lambda: render_series_thumbnail(paths, out / "t.jpg", window=BRAIN), args.repeat
        )
        info = StudyPageInfo(scanned.info.study_uid, "CH bench", "stroke")
        ready_s = best(
            lambda: render_study(
                {"s": paths}, out, settings=settings, preset="cta", study_info=info
            ),
            args.repeat,
        )

        # pool: the same study twice, one worker vs two (both cores allowed here)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        job = lambda: render_series_thumbnail(paths, out / "p.jpg", window=BRAIN)  # noqa: E731
        pool_times = {}
        for workers in (1, 2):
            with PreviewPool(workers) as pool:
                start = time.perf_counter()
                wait([pool.submit(0, job) for _ in range(4)])
                pool_times[workers] = time.perf_counter() - start

        result = {
            "slices": args.slices,
            "size": args.size,
            "thumbnail_ms_per_slice": round(stage["whole"], 3),
            "thumbnail_ms_per_slice_mean": round(stage["whole_mean"], 3),
            "thumbnail_series_ms_per_slice": round(thumb_series_s * 1000 / args.slices, 3),
            "series_per_s": round(1 / thumb_series_s, 2),
            "montage_ms": round((montage_s - only_key) * 1000, 1),
            "mip_ms": round((with_mip - only_key) * 1000, 1),
            "dcmj2pnm_ms_per_slice": None if dcmtk is None else round(dcmtk, 2),
            "floor_ms_per_slice": round(floor, 3),
            "study_ready_s": round(ready_s, 3),
            "stages_ms": {k: round(v, 3) for k, v in stage.items() if not k.startswith("whole")},
            "speedup_vs_dcmj2pnm": None if dcmtk is None else round(dcmtk / stage["whole"], 1),
            "ratio_to_floor": round(stage["whole"] / floor, 2),
            "pool_4_studies_s": {str(k): round(v, 3) for k, v in pool_times.items()},
            "notes": {
                "thumbnail_ms_per_slice": "parse+decode+LUT+resize+encode, median over the slices, one core (best of --repeat runs); stages_ms likewise",
                "thumbnail_ms_per_slice_mean": "the same, mean (includes the neighbours' disturbances)",
                "thumbnail_series_ms_per_slice": "render_series_thumbnail (scan all headers, render the middle) / slices",
                "montage_ms": "16 evenly spaced slices rendered, resized and tiled",
                "mip_ms": "15 mm thick-slab MIP around the middle slice, rendered and encoded",
                "study_ready_s": "render_study: header scan, thumbnail, key, montage, MIP, page",
                "floor_ms_per_slice": "read file + 256 px JPEG of the high byte, no parse, no windowing (median)",
                "dcmj2pnm_ms_per_slice": "one dcmj2pnm process per slice (+Ww 40 80, +Sxv 256, JPEG), mean over --dcmtk-sample slices",
            },
        }
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
