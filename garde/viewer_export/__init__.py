"""viewer_export: correct, fast DICOM previews and a static study page.

The rendering pipeline is pure ``ndarray -> ndarray`` steps (`grayscale`, `colour`,
`overlay`, `montage`); `pixels` decodes with pydicom; `image_io` alone touches Pillow.
Nothing here writes patient identifiers to a page or a log line.
"""

from garde.viewer_export.errors import (
    EmptySeriesError,
    NoPixelDataError,
    PreviewError,
    UnsupportedImageError,
)
from garde.viewer_export.model import (
    SeriesPreviews,
    StudyPageInfo,
    StudyPreviews,
    VoiFunction,
    Window,
    WindowPreset,
)
from garde.viewer_export.pool import PoolClosedError, PreviewPool
from garde.viewer_export.presets import (
    DEFAULT_PRESETS,
    DEFAULT_RULE_PRESETS,
    choose,
    presets_from_settings,
    presets_from_tables,
    rule_presets_from_settings,
)
from garde.viewer_export.study import render_path, render_study
from garde.viewer_export.thumbnail import render_series_thumbnail

__all__ = [
    "DEFAULT_PRESETS",
    "DEFAULT_RULE_PRESETS",
    "EmptySeriesError",
    "NoPixelDataError",
    "PoolClosedError",
    "PreviewError",
    "PreviewPool",
    "SeriesPreviews",
    "StudyPageInfo",
    "StudyPreviews",
    "UnsupportedImageError",
    "VoiFunction",
    "Window",
    "WindowPreset",
    "choose",
    "presets_from_settings",
    "presets_from_tables",
    "render_path",
    "render_series_thumbnail",
    "render_study",
    "rule_presets_from_settings",
]
