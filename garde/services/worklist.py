"""Worklist service: what a radiologist has to read, most urgent first, every view audited.

`worklist_item` is the documented, stable JSON form of one line (``garde worklist
--json``); `WORKLIST_KEYS` lists its keys, and a test pins them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Any

from garde.dispatch.model import Priority, StudyState
from garde.dispatch.risk import window_risk
from garde.services.identity import OPEN_MODE, PermissionDeniedError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime
    from pathlib import Path

    from garde.services.identity import Identity
    from garde.services.ports import WorklistUnitOfWork
    from garde.store.records import ReportOnItsWay, WorklistRow

WORKLIST_KEYS = (
    "age_s",
    "at_risk",
    "deadline",
    "description",
    "first_received_at",
    "handle",
    "linked",
    "modalities",
    "patient",
    "preview",
    "priority",
    "priors",
    "site_id",
    "site_name",
    "state",
    "study_uid",
    "time_left_s",
)
"""Keys of each ``garde worklist --json`` object (stable: added to, never renamed)."""

SORT_KEYS = ("priority", "deadline", "left", "age", "site", "modality", "state", "study")
FILTER_KEYS = ("site", "modality", "priority", "state", "risk", "text")


class UnknownRadiologistError(LookupError):
    """No radiologist with that id is configured."""


class WorklistQueryError(ValueError):
    """A bad ``--sort`` or ``--filter``: names what and what is allowed."""


def time_left_s(row: WorklistRow, now: datetime) -> float | None:
    """Seconds until the SLA deadline (negative once late); None if not triaged."""
    return None if row.deadline is None else (row.deadline - now).total_seconds()


def risk(row: WorklistRow, now: datetime) -> str:
    """``late``, ``at_risk`` (under a quarter of the SLA window left) or ``ok``: the
    core's rule (`garde.dispatch.risk.window_risk`)."""
    return window_risk(row.deadline, row.first_received_at, now).value


def worklist_item(row: WorklistRow, now: datetime, zone: tzinfo | None = None) -> dict[str, Any]:
    """The JSON object of one worklist line (keys: `WORKLIST_KEYS`); times in ISO 8601
    with ``zone``'s offset (the region's; UTC if None)."""
    left = time_left_s(row, now)
    at = zone or UTC
    return {
        "study_uid": row.study_uid,
        "handle": row.name,
        "site_id": row.site_id,
        "site_name": row.site_name,
        "state": row.state.value,
        "priority": None if row.priority is None else row.priority.value,
        "modalities": sorted(row.modalities),
        "description": row.description,
        "first_received_at": row.first_received_at.astimezone(at).isoformat(),
        "deadline": None if row.deadline is None else row.deadline.astimezone(at).isoformat(),
        "preview": row.preview_path,
        "age_s": round((now - row.first_received_at).total_seconds(), 1),
        "time_left_s": None if left is None else round(left, 1),
        "at_risk": risk(row, now) != "ok",
        "linked": list(row.linked),
        "priors": row.priors,
        # age, sex, accession, requesting_physician, indication (see `PatientContext`)
        "patient": row.patient.as_dict(),
    }


def parse_filters(values: Sequence[str]) -> dict[str, str]:
    """``["site=h01", "modality=CT"]`` -> ``{"site": "h01", "modality": "CT"}``."""
    filters: dict[str, str] = {}
    for value in values:
        key, sep, wanted = value.partition("=")
        key = key.strip().lower()
        if not sep or key not in FILTER_KEYS or not wanted.strip():
            raise WorklistQueryError(
                f"--filter {value!r}: expected KEY=VALUE with KEY one of {', '.join(FILTER_KEYS)}"
            )
        filters[key] = wanted.strip()
    return filters


def select_rows(
    rows: Sequence[WorklistRow],
    now: datetime,
    *,
    sort: str | None = None,
    filters: Mapping[str, str] | None = None,
) -> list[WorklistRow]:
    """Filter (every filter must match, case-insensitive) then sort ``rows``.

    Without ``sort`` the store's order stands: in progress first, then priority, then
    deadline. ``sort`` is a `SORT_KEYS` name, ``-name`` for descending.
    """
    chosen = [r for r in rows if _matches(r, now, filters or {})]
    if not sort:
        return chosen
    descending = sort.startswith("-")
    name = sort.lstrip("-").lower()
    if name not in SORT_KEYS:
        raise WorklistQueryError(f"--sort {sort!r}: expected one of {', '.join(SORT_KEYS)}")
    return sorted(chosen, key=lambda r: _sort_key(r, name, now), reverse=descending)


def _matches(row: WorklistRow, now: datetime, filters: Mapping[str, str]) -> bool:
    checks: dict[str, Callable[[str], bool]] = {
        "site": lambda v: v in {row.site_id.lower(), row.site_name.lower()},
        "modality": lambda v: v in {m.lower() for m in row.modalities},
        "priority": lambda v: row.priority is not None and row.priority.value == v,
        "state": lambda v: row.state.value == v,
        "risk": lambda v: risk(row, now) == v or (v == "any" and risk(row, now) != "ok"),
        "text": lambda v: v in row.description.lower(),
    }
    return all(checks[key](value.lower()) for key, value in filters.items())


def _sort_key(row: WorklistRow, name: str, now: datetime) -> tuple[Any, ...]:
    far = float("inf")
    rank = row.priority.queue_rank if row.priority is not None else len(Priority)
    left = time_left_s(row, now)
    keys: dict[str, tuple[Any, ...]] = {
        "priority": (rank, left if left is not None else far),
        "deadline": (left if left is not None else far, rank),
        "left": (left if left is not None else far, rank),
        "age": (row.first_received_at,),
        "site": (row.site_name, rank),
        "modality": ("/".join(sorted(row.modalities)), rank),
        "state": (row.state is not StudyState.IN_PROGRESS, rank),
        "study": (row.name,),
    }
    return (*keys[name], row.study_uid)


@dataclass
class WorklistService:
    """Reads worklists and audits every view."""

    uow_factory: Callable[[], WorklistUnitOfWork]
    previews_dir: Path

    def worklist(self, radiologist_id: str, *, now: datetime, origin: str) -> list[WorklistRow]:
        """The radiologist's open studies, most urgent first (audited); preview paths absolute."""
        return self.view(None, radiologist_id, now=now, origin=origin)

    def view(
        self,
        viewer: Identity | None,
        radiologist_id: str | None,
        *,
        now: datetime,
        origin: str,
        sort: str | None = None,
        filters: Mapping[str, str] | None = None,
        shown_before: Sequence[str] | None = None,
        reports: list[ReportOnItsWay] | None = None,
    ) -> list[WorklistRow]:
        """A worklist as ``viewer`` may see it: their own, or anyone's for an operator.

        ``viewer`` None is a trusted in-process caller (the demo); ``radiologist_id``
        None means the viewer's own. One audit row per call, naming the studies shown,
        unless they are exactly ``shown_before`` (a ``--watch`` refresh that showed
        nothing new: a night of refreshes every few seconds would bury the trail).

        Raises
        ------
        PermissionDeniedError
            If a radiologist asks for someone else's worklist.
        UnknownRadiologistError
            If the radiologist is not configured.
        WorklistQueryError
            If ``sort`` or ``filters`` are malformed.

        ``reports``, when given, is filled in the same unit of work (one connection on the
        CLI's lean path) with the reader's reports not yet at the hospital, newest first.
        """
        target = _whose(viewer, radiologist_id)
        actor = target if viewer is None else viewer.subject
        with self.uow_factory() as uow:
            if target not in {r.id for r in uow.directory.radiologists()}:
                raise UnknownRadiologistError(target)
            rows = select_rows(uow.studies.worklist(target), now, sort=sort, filters=filters)
            if reports is not None:
                reports[:] = uow.studies.reports_on_their_way(target)
            shown = [row.study_uid for row in rows]
            if shown_before is None or list(shown_before) != shown:
                uow.audit.append(
                    at=now,
                    actor=actor,
                    action="view_worklist",
                    study_uid=None,
                    radiologist_id=target,
                    origin=origin,
                    detail={
                        "rows": len(rows),
                        "studies": shown,
                        "origin": origin,
                        **dict(filters or {}),
                    },
                )
                uow.commit()
        return [
            replace(row, preview_path=str(self.previews_dir / row.preview_path))
            if row.preview_path
            else row
            for row in rows
        ]


def _whose(viewer: Identity | None, radiologist_id: str | None) -> str:
    """Whose worklist ``viewer`` asks for, if they may see it (their own, or an operator's pick)."""
    target = radiologist_id or (viewer.subject if viewer is not None else "")
    restricted = viewer is not None and viewer != OPEN_MODE and not viewer.is_operator
    if restricted and viewer is not None and target != viewer.subject:
        raise PermissionDeniedError(f"{viewer.subject} may not view the worklist of {target}")
    if viewer is not None and viewer.is_operator and not radiologist_id:
        raise UnknownRadiologistError("an operator must name --radiologist")
    return target
