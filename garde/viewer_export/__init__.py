"""viewer_export: correct, fast DICOM previews and a static study page.

The rendering pipeline is pure ``ndarray -> ndarray`` steps (`grayscale`, `colour`,
`overlay`, `montage`); `pixels` decodes with pydicom; `image_io` alone touches Pillow.
Nothing here writes patient identifiers to a page or a log line.
"""

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from garde.viewer_export.study import render_path, render_study
    from garde.viewer_export.thumbnail import render_series_thumbnail

# The renderers pull in pydicom's pixel stack, numpy and Pillow (about 0.3 s): loaded on
# first use, so that a CLI command which only builds the runtime (`next`, `status`) skips
# them while `garde.viewer_export.render_study` still works as before.
_RENDERERS = {
    "render_path": "garde.viewer_export.study",
    "render_study": "garde.viewer_export.study",
    "render_series_thumbnail": "garde.viewer_export.thumbnail",
}


def __getattr__(name: str) -> Any:
    module = _RENDERERS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
