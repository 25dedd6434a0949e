"""Preview service: renders each study's previews off the dispatch path and records them.

When a study is triaged the dispatcher calls `PreviewService.submit`, which returns at
once: a pool of worker threads (`garde.viewer_export.PreviewPool`) renders the most
urgent studies first. Each study gets, per series, a thumbnail, a key image (the middle
slice), a montage and, for CT angiography, a thick-slab MIP, in the window preset that
its triage rule names (`[previews.rule_presets]`), and one static study page
(``<previews.dir>/<study_uid>/index.html``) with the priority, the sending hospital and
the SLA deadline. Without started workers (the CLI, tests) `submit` renders inline.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from garde.store.enums import PreviewKind
from garde.store.errors import NotFoundError
from garde.viewer_export import (
    PreviewPool,
    StudyPageInfo,
    presets_from_settings,
    rule_presets_from_settings,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from garde.config.model import PreviewSettings
    from garde.dispatch.model import Priority
    from garde.dispatch.ports import Clock
    from garde.store.ports import UnitOfWork
    from garde.store.records import StudyRecord
    from garde.viewer_export import StudyPreviews, WindowPreset

    Progress = Callable[[int, int], None]

logger = logging.getLogger(__name__)


class UnknownStudyError(LookupError):
    """No stored study has that Study Instance UID."""


@dataclass(frozen=True, slots=True)
class _StudyInputs:
    """What rendering a stored study needs, read in one unit of work."""

    series: dict[str, list[Path]]
    info: StudyPageInfo
    preset: str | None


@dataclass
class PreviewService:
    """Renders and records the previews of stored studies.

    Parameters
    ----------
    uow_factory
        Opens a unit of work on the store.
    settings
        Sizes, format, presets and where previews go (``settings.dir/<study_uid>/``).
    storage_dir
        The gateway's storage folder, which instance paths are relative to.
    clock
        Stamps the page's "generated at" time; the wall clock if None.
    workers
        Rendering threads once `start` is called; ``settings.workers`` if None.
    """

    uow_factory: Callable[[], UnitOfWork]
    settings: PreviewSettings
    storage_dir: Path
    clock: Clock | None = None
    workers: int | None = None
    presets: Mapping[str, WindowPreset] = field(init=False)
    rule_presets: Mapping[str, str] = field(init=False)
    _pool: PreviewPool | None = field(default=None, init=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False)
    _pending: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.presets = presets_from_settings(self.settings)
        self.rule_presets = rule_presets_from_settings(self.settings)
        unknown = sorted(p for p in self.rule_presets.values() if p not in self.presets)
        if unknown:
            raise ValueError(f"previews.rule_presets names unknown presets: {', '.join(unknown)}")

    def start(self) -> None:
        """Start the worker threads (decoding, numpy and Pillow release the GIL)."""
        if self._pool is None:
            self._pool = PreviewPool(self.workers or self.settings.workers)

    def submit(self, study_uid: str, priority: Priority) -> None:
        """Queue a study: the most urgent priority is rendered first, then arrival order.

        Returns at once when the workers run; renders inline when they do not.
        """
        with self._cond:
            self._pending += 1
        pool = self._pool
        if pool is None:
            self._render_and_finish(study_uid)
        else:
            pool.submit(priority.rank, lambda: self._render_and_finish(study_uid))

    def catch_up(self) -> int:
        """Queue the open studies that have no preview yet (at start-up: what a crash or
        a stop left unrendered); returns how many."""
        with self.uow_factory() as uow:
            missing = uow.studies.open_without_previews()
        for record in missing:
            if record.priority is not None:  # always: the query keeps triaged studies
                self.submit(record.study_uid, record.priority)
        if missing:
            logger.info("previews: %d open studies had none; rendering them", len(missing))
        return len(missing)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued study is rendered; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        """Finish the queued studies and stop the workers."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _render_and_finish(self, study_uid: str) -> None:
        try:
            self.render(study_uid)
        except Exception:  # a job boundary: log and carry on with the next study
            logger.exception("previews of study %s failed", study_uid)
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    def render(self, study_uid: str) -> StudyPreviews:
        """Render every product of a stored study and record them; returns what was written.

        Raises
        ------
        UnknownStudyError
            No stored study has that UID.
        """
        inputs = self._inputs(study_uid)
        out_dir = self.settings.dir / study_uid  # the gateway validated the UID
        from garde.viewer_export import render_study  # noqa: PLC0415 - pixel stack on first render

        result = render_study(
            inputs.series,
            out_dir,
            settings=self.settings,
            preset=inputs.preset,
            study_info=inputs.info,
            presets=self.presets,
            generated=self._now(),
        )
        self._record(result)
        logger.info(
            "study %s: previews of %d series (preset %s)",
            study_uid,
            len(result.series),
            result.preset or "none",
        )
        return result

    def render_to(
        self,
        study_uid: str,
        out_dir: Path,
        *,
        actor: str,
        origin: str,
        preset: str | None = None,
        progress: Progress | None = None,
    ) -> StudyPreviews:
        """Render a stored study on demand into ``out_dir`` (audited; nothing recorded).

        ``preset`` overrides the one triage chose. Raises `UnknownStudyError` or, for an
        unknown preset, `KeyError`.
        """
        if preset is not None and preset not in self.presets:
            raise KeyError(f"unknown window preset {preset!r} (known: {', '.join(self.presets)})")
        inputs = self._inputs(study_uid)
        from garde.viewer_export import render_study  # noqa: PLC0415 - pixel stack on first render

        result = render_study(
            inputs.series,
            out_dir,
            settings=self.settings,
            preset=preset or inputs.preset,
            study_info=inputs.info,
            presets=self.presets,
            generated=self._now(),
            progress=progress,
        )
        with self.uow_factory() as uow:
            uow.audit.append(
                at=self._now(),
                actor=actor,
                action="render_previews",
                study_uid=study_uid,
                origin=origin,
                detail={"series": len(result.series), "preset": result.preset},
            )
            uow.commit()
        return result

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(tz=UTC)

    def _inputs(self, study_uid: str) -> _StudyInputs:
        with self.uow_factory() as uow:
            record = uow.studies.get(study_uid)
            if record is None:
                raise UnknownStudyError(study_uid)
            series = {
                s.series_uid: [
                    self.storage_dir / p for p in uow.studies.instance_paths(s.series_uid)
                ]
                for s in uow.studies.series(study_uid)
            }
            sites = {s.id: s for s in uow.directory.sites(include_inactive=True)}
        site = sites.get(record.site_id)
        info = _page_info(
            record,
            site.name if site else record.site_id,
            site.timezone if site else "UTC",
        )
        preset = self.rule_presets.get(record.triage_rule or "")
        return _StudyInputs({k: v for k, v in series.items() if v}, info, preset)

    def _record(self, result: StudyPreviews) -> None:
        """Record each series' files (relative to the preview directory).

        The page is not recorded: the worklist shows a study-level preview before any
        series thumbnail, and its ``preview`` must stay an image. Its path is fixed
        (``<study_uid>/index.html``).
        """
        with self.uow_factory() as uow:
            for s in result.series:
                for kind, path in (
                    (PreviewKind.THUMBNAIL, s.thumbnail),
                    (PreviewKind.MID_SLICE, s.key_image),
                    (PreviewKind.MONTAGE, s.montage),
                    (PreviewKind.MIP, s.mip),
                ):
                    if path is None:
                        continue
                    try:
                        uow.studies.set_preview(
                            s.series_uid,
                            kind.value,
                            path.relative_to(self.settings.dir).as_posix(),
                            self._now(),
                        )
                    except NotFoundError:
                        logger.warning(
                            "study %s: series %s of the files is not stored",
                            result.study_uid,
                            s.series_uid,
                        )
            uow.commit()


def _page_info(record: StudyRecord, site_name: str, timezone: str) -> StudyPageInfo:
    """What the page shows of a stored study (never patient identifiers)."""
    return StudyPageInfo(
        study_uid=record.study_uid,
        site_name=site_name,
        priority=record.priority.value if record.priority else "unknown",
        deadline=record.deadline,
        description=record.description,
        accession=record.accession,
        modality=", ".join(sorted(record.modalities)),
        received=record.first_received_at,
        timezone=timezone,
        reason=record.triage_rule or "",
    )


def render_files(
    path: Path,
    out_dir: Path,
    settings: PreviewSettings,
    *,
    preset: str | None = None,
    progress: Progress | None = None,
) -> StudyPreviews:
    """Render the study under ``path`` (a DICOM file or folder, not in the store) on demand.

    Raises `garde.viewer_export.PreviewError` (no image, several studies) or, for an
    unknown preset, `KeyError`.
    """
    presets = presets_from_settings(settings)
    if preset is not None and preset not in presets:
        raise KeyError(f"unknown window preset {preset!r} (known: {', '.join(presets)})")
    from garde.viewer_export import render_path  # noqa: PLC0415 - pixel stack on first render

    return render_path(path, out_dir, settings, progress, preset=preset, presets=presets)
