"""Sites and radiologists, synced from config so studies and assignments can refer to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from garde.dispatch.model import Radiologist, Site
from garde.store.models import RadiologistRow, SiteRow
from garde.store.repositories.professionals import ProfessionalRepository

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session


class DirectoryRepository:
    """Who sends (sites) and who reads (radiologists)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def sync_sites(self, sites: Iterable[Site]) -> None:
        """Make the stored sites match config: upsert these, deactivate the others.

        Rows are never deleted: studies keep referring to a hospital that left the region.
        """
        wanted = {site.id: site for site in sites}
        for row in self._session.scalars(select(SiteRow)):
            row.active = row.id in wanted
        for site in wanted.values():
            row = self._session.get(SiteRow, site.id) or SiteRow(id=site.id)
            row.name = site.name
            row.ae_titles = sorted(site.ae_titles)
            row.timezone = site.timezone
            row.stable_age_s = site.stable_age_s
            row.ip_allow = list(site.ip_allow)
            row.active = True
            self._session.add(row)
        self._session.flush()

    def sites(self, *, include_inactive: bool = False) -> list[Site]:
        """The stored sites (active ones unless asked), by id."""
        query = select(SiteRow).order_by(SiteRow.id)
        if not include_inactive:
            query = query.where(SiteRow.active)
        return [_site(row) for row in self._session.scalars(query)]

    def sync_radiologists(self, radiologists: Iterable[Radiologist]) -> None:
        """Make the stored radiologists match config: upsert these, deactivate the others.

        A radiologist config gives an RPPS number takes their display name from the
        national directory once it is imported (`garde directory import`).
        """
        wanted = {rad.id: rad for rad in radiologists}
        directory_names = ProfessionalRepository(self._session).names()
        for row in self._session.scalars(select(RadiologistRow)):
            row.active = row.id in wanted
        for rad in wanted.values():
            row = self._session.get(RadiologistRow, rad.id) or RadiologistRow(id=rad.id)
            row.name = directory_names.get(rad.rpps, rad.name)
            row.rpps = rad.rpps or None
            row.skills = sorted(rad.skills)
            row.sites = sorted(rad.sites)
            row.max_parallel = rad.max_parallel
            row.speed = rad.speed
            row.fallback = rad.fallback
            row.supervisor = rad.supervisor
            row.medical_director = rad.medical_director
            row.active = True
            self._session.add(row)
        self._session.flush()

    def radiologists(self, *, include_inactive: bool = False) -> list[Radiologist]:
        """The stored radiologists (active ones unless asked), by id."""
        query = select(RadiologistRow).order_by(RadiologistRow.id)
        if not include_inactive:
            query = query.where(RadiologistRow.active)
        return [_radiologist(row) for row in self._session.scalars(query)]


def _site(row: SiteRow) -> Site:
    return Site(
        id=row.id,
        name=row.name,
        ae_titles=frozenset(row.ae_titles),
        timezone=row.timezone,
        stable_age_s=row.stable_age_s,
        ip_allow=tuple(row.ip_allow),
    )


def _radiologist(row: RadiologistRow) -> Radiologist:
    return Radiologist(
        id=row.id,
        name=row.name,
        skills=frozenset(row.skills),
        sites=frozenset(row.sites),
        max_parallel=row.max_parallel,
        speed=row.speed,
        fallback=row.fallback,
        supervisor=row.supervisor,
        medical_director=row.medical_director,
        rpps=row.rpps or "",
    )
