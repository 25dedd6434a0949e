"""Value objects of the preview pipeline: windows, presets, what a study page shows.

The study page and its products never carry patient identifiers (name, patient ID, birth
date): the Study Instance UID and the accession number are enough for the radiologist to
find the study in the viewer, and a phone screen can be seen by others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path


class VoiFunction(StrEnum):
    """VOI LUT Function (0028,1056): how a window maps values to grey (PS3.3 C.11.2.1.3)."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"


@dataclass(frozen=True, slots=True)
class Window:
    """A VOI window: Window Center (0028,1050) and Window Width (0028,1051), in modality units.

    LINEAR needs a width of at least 1 (the standard's formula divides by width - 1);
    LINEAR_EXACT and SIGMOID need a positive width.
    """

    center: float
    width: float
    function: VoiFunction = VoiFunction.LINEAR

    def __post_init__(self) -> None:
        object.__setattr__(self, "function", VoiFunction(self.function))
        if not (math.isfinite(self.center) and math.isfinite(self.width)):
            raise ValueError(f"window must be finite, got center={self.center} width={self.width}")
        minimum = 1.0 if self.function is VoiFunction.LINEAR else 0.0
        if self.width < minimum or (minimum == 0.0 and self.width == 0.0):
            raise ValueError(
                f"window width {self.width} is too small for {self.function} "
                f"(needs {'>= 1' if minimum else '> 0'})"
            )

    @property
    def low(self) -> float:
        """The lowest modality value shown brighter than black."""
        return self.center - self.width / 2

    @property
    def high(self) -> float:
        """The highest modality value shown darker than white."""
        return self.center + self.width / 2


@dataclass(frozen=True, slots=True)
class WindowPreset:
    """A named window for a kind of exam (brain, lung...), chosen by triage or by rule.

    ``modalities`` and ``body_parts`` say where the preset applies when triage names none
    (an empty tuple: any); ``keywords`` are matched against the study and series
    descriptions (upper case, accents stripped).
    """

    name: str
    window: Window
    modalities: tuple[str, ...] = ("CT",)
    body_parts: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    mip_slab_mm: float | None = None  # a thick-slab MIP is rendered when set

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a window preset needs a name")
        if self.mip_slab_mm is not None and not self.mip_slab_mm > 0:
            raise ValueError(f"preset {self.name!r}: mip_slab_mm must be > 0")


@dataclass(frozen=True, slots=True)
class StudyPageInfo:
    """What the static study page shows besides the images.

    No patient identifiers here on purpose: the page is read on a phone at night.
    ``deadline`` is the SLA deadline (timezone-aware); it is shown in ``timezone``.
    """

    study_uid: str
    site_name: str
    priority: str
    deadline: datetime | None = None
    description: str = ""
    accession: str = ""
    modality: str = ""
    received: datetime | None = None
    timezone: str = "Europe/Paris"
    reason: str = ""  # why triage chose this priority (the rule's name)

    def __post_init__(self) -> None:
        for name in ("deadline", "received"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"StudyPageInfo.{name} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class SeriesPreviews:
    """The files rendered for one series (paths absolute); ``None`` when not rendered."""

    series_uid: str
    description: str
    modality: str
    slices: int
    thumbnail: Path | None = None
    key_image: Path | None = None
    montage: Path | None = None
    mip: Path | None = None
    window: Window | None = None
    error: str = ""  # why this series has no previews, when it failed
    notes: tuple[str, ...] = ()  # what a product left out or could not do (the page shows them)


@dataclass(frozen=True, slots=True)
class StudyPreviews:
    """Everything `render_study` produced for a study."""

    study_uid: str
    page: Path
    series: tuple[SeriesPreviews, ...] = field(default_factory=tuple)
    preset: str | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file written, the page last."""
        out: list[Path] = []
        for s in self.series:
            out.extend(p for p in (s.thumbnail, s.key_image, s.montage, s.mip) if p)
        out.append(self.page)
        return tuple(out)
