"""``[reporting]``: where each hospital takes its reports back, and its priors peer.

A hospital's reports go to its destinations (``[[reporting.destinations]]``): a DICOM
store SCP (its PACS: the report as a Comprehensive SR and/or an Encapsulated PDF in the
original study), an MLLP listener (its RIS: an HL7 v2.5 ORU^R01), or a webhook that is
told of critical findings at once. ``[[reporting.priors]]`` names a hospital's
query/retrieve peer, from which a new study's priors are fetched (C-FIND, C-MOVE).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from garde.config._reader import Reader


class DestinationKind(StrEnum):
    """How a destination takes a report."""

    DICOM = "dicom"  # C-STORE of the SR / PDF into the hospital's PACS
    HL7 = "hl7"  # ORU^R01 over MLLP to the hospital's RIS
    WEBHOOK = "webhook"  # a critical finding, posted to the hospital's contact at once


REPORT_OBJECTS = ("sr", "pdf")


@dataclass(frozen=True, slots=True)
class DestinationTls:
    """DICOM TLS towards a hospital's PACS (we are the client)."""

    ca_file: Path  # verifies the PACS's certificate
    cert_file: Path | None = None  # our client certificate, if the PACS asks for one
    key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class Destination:
    """One place a hospital's reports go."""

    site_id: str
    name: str  # unique per site: the outbox's destination is "<site>/<name>"
    kind: DestinationKind
    host: str = ""
    port: int = 0
    ae_title: str = ""  # dicom: the PACS's AE title
    objects: tuple[str, ...] = ("sr",)  # dicom: sr and/or pdf
    tls: DestinationTls | None = None
    receiving_application: str = ""  # hl7: MSH-5
    receiving_facility: str = ""  # hl7: MSH-6
    url: str = ""  # webhook

    @property
    def key(self) -> str:
        """The outbox's destination column."""
        return f"{self.site_id}/{self.name}"


@dataclass(frozen=True, slots=True)
class PriorsPeer:
    """A hospital's query/retrieve SCP (its PACS) for priors."""

    site_id: str
    host: str
    port: int
    ae_title: str
    years: float = 5.0  # how far back
    modalities: tuple[str, ...] = ()  # relevant modalities; empty: those of the new study
    same_body_part: bool = True  # a prior of another body part is not relevant
    timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class ReportingSettings:
    """Report return and priors (issue 14)."""

    destinations: tuple[Destination, ...] = ()
    priors: tuple[PriorsPeer, ...] = ()
    alert_after_min: float = 10.0  # a report undelivered this long alerts the operator
    backoff_s: float = 2.0  # first retry of a failed delivery; doubled up to backoff_max_s
    backoff_max_s: float = 300.0
    timeout_s: float = 10.0  # per delivery attempt
    institution: str = "Garde - téléradiologie"  # the report's issuing organisation
    priors_ae_title: str = "GARDE_PRIORS"  # our move destination, as the PACS knows it
    priors_port: int = 11113  # where the priors receiver listens (on the gateway's host)

    def for_site(self, site_id: str) -> tuple[Destination, ...]:
        """The destinations of one hospital."""
        return tuple(d for d in self.destinations if d.site_id == site_id)

    def peer(self, site_id: str) -> PriorsPeer | None:
        """The priors peer of one hospital, if any."""
        return next((p for p in self.priors if p.site_id == site_id), None)


def parse_reporting(r: Reader, site_ids: set[str]) -> ReportingSettings:
    """``[reporting]``, every problem recorded with its key."""
    d = ReportingSettings()
    destinations = tuple(
        found
        for dr in r.tables("destinations")
        if (found := _destination(dr, site_ids)) is not None
    )
    seen: set[str] = set()
    for dest in destinations:
        if dest.key in seen:
            r.problem("destinations", f"duplicate destination {dest.key!r} (site/name)")
        seen.add(dest.key)
    priors = tuple(p for pr in r.tables("priors") if (p := _peer(pr, site_ids)) is not None)
    settings = ReportingSettings(
        destinations=destinations,
        priors=priors,
        alert_after_min=r.number("alert_after_min", d.alert_after_min, strict=True),
        backoff_s=r.number("backoff_s", d.backoff_s, strict=True),
        backoff_max_s=r.number("backoff_max_s", d.backoff_max_s, strict=True),
        timeout_s=r.number("timeout_s", d.timeout_s, strict=True),
        institution=r.scalar("institution", str, d.institution) or d.institution,
        priors_ae_title=_ae(r, "priors_ae_title", d.priors_ae_title),
        priors_port=r.integer("priors_port", d.priors_port, minimum=0, maximum=65535),
    )
    r.reject_unknown()
    return settings


def _site(r: Reader, site_ids: set[str]) -> str:
    site = r.scalar("site", str) or ""
    if site and site not in site_ids:
        r.problem("site", f"unknown site {site!r} (known: {', '.join(sorted(site_ids))})")
    return site


def _ae(r: Reader, name: str, default: str | None = None) -> str:
    ae = (r.scalar(name, str) if default is None else r.scalar(name, str, default)) or ""
    if ae and not 0 < len(ae) <= 16:
        r.problem(name, f"expected 1 to 16 characters, got {ae!r}")
    return ae


def _destination(r: Reader, site_ids: set[str]) -> Destination | None:  # noqa: C901
    site = _site(r, site_ids)
    name = r.scalar("name", str) or ""
    raw_kind = r.scalar("kind", str) or ""
    try:
        kind = DestinationKind(raw_kind)
    except ValueError:
        r.problem("kind", f"expected dicom, hl7 or webhook, got {raw_kind!r}")
        return None  # its other keys depend on the kind: not judged
    host = port = ae = url = ""
    objects: tuple[str, ...] = ()
    tls = None
    app = facility = ""
    if kind is DestinationKind.WEBHOOK:
        url = r.scalar("url", str) or ""
        if url and not url.startswith(("http://", "https://")):
            r.problem("url", f"expected an http:// or https:// URL, got {url!r}")
    else:
        host = r.scalar("host", str) or ""
        port = str(r.integer("port", 0, minimum=1, maximum=65535))
        if "port" not in r.table:
            r.problem("port", "missing; expected an integer")
    if kind is DestinationKind.DICOM:
        ae = _ae(r, "ae_title")
        objects = r.string_list("objects", ("sr",))
        for obj in objects:
            if obj not in REPORT_OBJECTS:
                r.problem("objects", f"expected sr and/or pdf, got {obj!r}")
        if not objects:
            r.problem("objects", "expected sr and/or pdf")
        tls = _tls(r.sub("tls"))
    if kind is DestinationKind.HL7:
        app = r.scalar("receiving_application", str, "RIS") or "RIS"
        facility = r.scalar("receiving_facility", str, site) or site
    r.reject_unknown()
    if not (site and name):
        return None
    return Destination(
        site_id=site,
        name=name,
        kind=kind,
        host=host,
        port=int(port or 0),
        ae_title=ae,
        objects=objects,
        tls=tls,
        receiving_application=app,
        receiving_facility=facility,
        url=url,
    )


def _tls(r: Reader) -> DestinationTls | None:
    if not r.table:
        return None
    ca = r.scalar("ca_file", str) or ""
    cert = r.scalar("cert_file", str, "") or ""
    key = r.scalar("key_file", str, "") or ""
    if bool(cert) != bool(key):
        r.problem("key_file", "cert_file and key_file go together")
    r.reject_unknown()
    if not ca:
        return None
    return DestinationTls(Path(ca), Path(cert) if cert else None, Path(key) if key else None)


def _peer(r: Reader, site_ids: set[str]) -> PriorsPeer | None:
    d = PriorsPeer("", "", 0, "")
    site = _site(r, site_ids)
    host = r.scalar("host", str) or ""
    port = r.integer("port", 0, minimum=1, maximum=65535)
    ae = _ae(r, "ae_title")
    peer = PriorsPeer(
        site_id=site,
        host=host,
        port=port,
        ae_title=ae,
        years=r.number("years", d.years, strict=True),
        modalities=r.string_list("modalities", ()),
        same_body_part=r.flag("same_body_part", default=d.same_body_part),
        timeout_s=r.number("timeout_s", d.timeout_s, strict=True),
    )
    r.reject_unknown()
    return peer if site and host and port and ae else None
