"""Window presets per kind of exam, with defaults in code and overrides from config.

How one is picked for a series (`choose`): a preset named by triage (the rule that set
the priority, through `rule_presets_from_settings`: ``stroke-alert`` -> ``"stroke"``)
applies to the series of its modalities; a series whose description names another kind
(lung, bone, angio) gets that kind instead, so a chest CT's lung kernel is not shown in a
mediastinal window. With no name from triage, keywords and body part choose; with no
match, the files' own window.

Config shape (TOML), merged over the defaults by `presets_from_tables`::

    [previews.presets.brain]
    center = 40
    width = 80
    function = "LINEAR"          # optional: LINEAR, LINEAR_EXACT, SIGMOID
    modalities = ["CT"]          # optional
    body_parts = ["HEAD", "BRAIN"]
    keywords = ["CEREBR", "CRANE", "ENCEPHAL"]
    mip_slab_mm = 15             # optional: also render a thick-slab MIP
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from garde.viewer_export.model import VoiFunction, Window, WindowPreset

if TYPE_CHECKING:
    from collections.abc import Mapping

    from garde.config.model import PreviewSettings

DEFAULT_PRESETS: dict[str, WindowPreset] = {
    p.name: p
    for p in (
        # a narrow window makes early ischaemia (lost grey-white contrast) visible
        WindowPreset(
            "stroke", Window(35, 40), keywords=("AVC", "STROKE", "THROMBOLY", "THROMBECT")
        ),
        WindowPreset("subdural", Window(75, 215), keywords=("SUBDURAL", "HEMATOME", "TRAUMA CRAN")),
        WindowPreset(
            "cta",
            Window(170, 600),
            keywords=("ANGIO", "CTA", "TSA", "WILLIS", "EMBOLIE", "AORT"),
            mip_slab_mm=15.0,
        ),
        WindowPreset(
            "bone", Window(500, 2000), keywords=("BONE", " OS ", "OSSEU", "RACHIS", "SPINE")
        ),
        WindowPreset("lung", Window(-600, 1500), keywords=("LUNG", "POUMON", "PARENCHYM", "PULM")),
        WindowPreset(
            "brain",
            Window(40, 80),
            body_parts=("HEAD", "BRAIN", "SKULL"),
            keywords=("CEREBR", "CRANE", "ENCEPHAL", "BRAIN", "HEAD"),
        ),
        WindowPreset(
            "mediastinum",
            Window(50, 350),
            body_parts=("CHEST", "THORAX"),
            keywords=("THORAX", "THORACIQUE", "CHEST", "MEDIASTIN"),
        ),
        WindowPreset(
            "abdomen",
            Window(40, 400),
            body_parts=("ABDOMEN", "PELVIS", "ABDOMENPELVIS"),
            keywords=("ABDO", "PELVI", "TAP", "ABDOMEN"),
        ),
    )
}

# a series description naming one of these overrides the study's preset (an angio series
# of a stroke protocol gets the CTA window and its MIP, not the narrow stroke window)
_SERIES_KINDS = ("lung", "bone", "cta")

DEFAULT_RULE_PRESETS: dict[str, str] = {
    "stroke-alert": "stroke",
    "subarachnoid-haemorrhage": "brain",
    "head-trauma": "subdural",
    "pulmonary-embolism": "cta",
    "acute-abdomen": "abdomen",
    "ct-head": "brain",
}
"""Triage rule (`garde.dispatch.triage.DEFAULT_RULES`) -> the preset its studies open in."""


def normalise(text: str) -> str:
    """Upper case, accents stripped, padded with spaces (so " OS " matches a word)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return f" {bare.upper().replace('_', ' ').replace('^', ' ')} "


def _matches(preset: WindowPreset, modality: str, text: str) -> bool:
    if preset.modalities and modality.upper() not in preset.modalities:
        return False
    return any(k in text for k in preset.keywords)


def choose(
    presets: Mapping[str, WindowPreset],
    name: str | None,
    *,
    modality: str,
    body_part: str = "",
    study_description: str = "",
    series_description: str = "",
) -> WindowPreset | None:
    """The preset for one series (see the module docstring), or None for the file's window."""
    series_text = normalise(series_description)
    for kind in _SERIES_KINDS:
        preset = presets.get(kind)
        if preset and kind != name and _matches(preset, modality, series_text):
            return preset
    if name is not None:
        preset = presets.get(name)
        if preset is None:
            raise KeyError(f"unknown window preset {name!r} (known: {', '.join(sorted(presets))})")
        return preset if modality.upper() in preset.modalities or not preset.modalities else None
    text = normalise(f"{study_description} {series_description}")
    allowed = [p for p in presets.values() if not p.modalities or modality.upper() in p.modalities]
    for preset in allowed:  # dict order: the specific (stroke, cta) before the general
        if any(k in text for k in preset.keywords):
            return preset
    for preset in allowed:
        if body_part and body_part.upper() in preset.body_parts:
            return preset
    return None


def _strings(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        message = f"{where}.{key}: expected a list of strings, got {value!r}"
        raise ValueError(message)
    return tuple(v.upper() for v in value)


def _number(table: Mapping[str, Any], key: str, where: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        # a config error: ValueError like every other bad key, so the loader reports them alike
        raise ValueError(f"{where}.{key}: expected a number, got {value!r}")  # noqa: TRY004
    return float(value)


def presets_from_tables(
    tables: Mapping[str, Mapping[str, Any]], base: Mapping[str, WindowPreset] | None = None
) -> dict[str, WindowPreset]:
    """Presets from ``[previews.presets.NAME]`` tables, merged over ``base`` (the defaults).

    A table may override only some keys of a default preset (say its width); a new
    name needs ``center`` and ``width``. Errors name the key: ``previews.presets.lung.width``.
    """
    out = dict(DEFAULT_PRESETS if base is None else base)
    known = {"center", "width", "function", "modalities", "body_parts", "keywords", "mip_slab_mm"}
    for name, table in tables.items():
        where = f"previews.presets.{name}"
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        current = out.get(name)
        center, width = _number(table, "center", where), _number(table, "width", where)
        if current is None and (center is None or width is None):
            raise ValueError(f"{where}: a new preset needs center and width")
        function = table.get("function")
        try:
            window = Window(
                center if center is not None else current.window.center,  # type: ignore[union-attr]
                width if width is not None else current.window.width,  # type: ignore[union-attr]
                VoiFunction(str(function).upper())
                if function is not None
                else (current.window.function if current else VoiFunction.LINEAR),
            )
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        fields: dict[str, Any] = {"window": window}
        for key in ("modalities", "body_parts", "keywords"):
            value = _strings(table, key, where)
            if value is not None:
                fields[key] = value
        slab = _number(table, "mip_slab_mm", where)
        if slab is not None:
            fields["mip_slab_mm"] = slab
        try:
            out[name] = replace(current, **fields) if current else WindowPreset(name, **fields)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
    return out


def presets_from_settings(settings: PreviewSettings) -> dict[str, WindowPreset]:
    """The preset table: the defaults with ``[previews.presets.*]`` merged over them."""
    tables: dict[str, dict[str, Any]] = {}
    for item in settings.presets:
        table: dict[str, Any] = {}
        for key in ("center", "width", "function", "mip_slab_mm"):
            if getattr(item, key) is not None:
                table[key] = getattr(item, key)
        for key in ("modalities", "body_parts", "keywords"):
            if getattr(item, key) is not None:
                table[key] = list(getattr(item, key))
        tables[item.name] = table
    return presets_from_tables(tables)


def rule_presets_from_settings(settings: PreviewSettings) -> dict[str, str]:
    """Triage rule -> preset name: the defaults with ``[previews.rule_presets]`` over them."""
    return {**DEFAULT_RULE_PRESETS, **dict(settings.rule_presets)}
