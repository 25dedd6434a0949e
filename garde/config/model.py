"""Typed settings: one frozen `Settings`, loaded once from TOML by `loader.py`.

Settings travel as arguments, never through globals. Every default is documented in
`example.toml` beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping  # noqa: TC003 - a dataclass field's type, resolved at runtime
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from pathlib import Path

from garde.config.reporting import ReportingSettings
from garde.dispatch.model import (
    Radiologist,
    ReadingTimes,
    Site,
    SlaPolicy,
    TriageRule,
)


class Environment(StrEnum):
    """What kind of region this is. Only `demo` and `test` allow the open mode of the
    CLI (a worklist or status without a personal token, before the first is issued)."""

    PRODUCTION = "production"
    DEMO = "demo"
    TEST = "test"


class OverwritePolicy(StrEnum):
    """What the gateway does with a different content under a stored SOP Instance UID
    (like dcm4chee's overwrite policies and Orthanc's ``OverwriteInstances``).

    An identical re-send is always an idempotent success. ``reject`` (the default)
    keeps the first copy, quarantines the new one and answers 0x0111; ``overwrite``
    replaces the file, updates the index and renders the study's previews again.
    """

    REJECT = "reject"
    OVERWRITE = "overwrite"


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """DICOM TLS for the gateway; absent means plain TCP."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None  # CA bundle to verify client certificates against
    require_client_cert: bool = False


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """The DICOM C-STORE / C-ECHO service provider."""

    ae_title: str = "GARDE"
    host: str = "127.0.0.1"
    port: int = 11112
    storage_dir: Path = Path("data/storage")
    stable_age_s: float = 60.0  # no new instance for this long: the study is complete
    # A series with no new instance for this long is complete: a stroke goes at its first.
    stroke_stable_age_s: float = 3.0
    max_associations: int = 16  # per gateway process (`workers` of them share the port)
    acse_timeout_s: float = (
        10.0  # a connection without a whole association request by then is dropped
    )
    network_timeout_s: float = 60.0
    dimse_timeout_s: float = 60.0
    check_called_ae: bool = False  # refuse associations not addressed to ae_title
    workers: int = 0  # gateway processes on the same port (0: one per core)
    tls: TlsSettings | None = None
    # A different content under a stored SOP Instance UID (see `OverwritePolicy`).
    overwrite_policy: OverwritePolicy = OverwritePolicy.REJECT
    # Where such conflicting copies are kept; None: ``conflicts`` beside storage_dir.
    conflicts_dir: Path | None = None
    # Answer once the file is durably in place; index in batches after (start-up indexes
    # what a crash left unindexed). False: index each instance before its answer.
    index_after_answer: bool = True
    # Bounds before trust (see `garde.dicom_gateway.pdu_guard`): the largest
    # A-ASSOCIATE-RQ, the Maximum Length Received announced (a larger PDU aborts the
    # association), and the connections not yet past their request, per address / in all.
    max_request_bytes: int = 256 << 10
    max_pdu_bytes: int = 4 << 20
    max_pending_per_address: int = 8
    max_pending_connections: int = 64


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """``[web.oidc]``: single sign-on with an OpenID Connect provider (authorization code
    with PKCE). ``subject_claim`` names the ID token claim that is a radiologist's id or
    RPPS number (``sub`` by default); a session lasts ``session_ttl_min``."""

    issuer: str
    client_id: str
    client_secret: str = ""
    scopes: tuple[str, ...] = ("openid", "profile")
    subject_claim: str = "sub"
    session_ttl_min: float = 720.0  # a night on call


@dataclass(frozen=True, slots=True)
class WebSettings:
    """``[web]``: DICOMweb (QIDO/WADO/STOW-RS), study pages and the hosted viewer.

    ``public_url`` is the address readers reach (behind a proxy, the proxy's); empty:
    derived from ``host``, ``port`` and TLS. ``viewer_url`` is what `garde open` prints:
    ``{base}`` is the public URL, ``{study}`` the StudyInstanceUID (OHIF by default; a
    Weasis ``weasis://`` URI or another viewer's works the same way).
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8042
    tls: TlsSettings | None = None
    public_url: str = ""
    cors_origins: tuple[str, ...] = ()  # origins whose pages may call DICOMweb ("*": any)
    viewer_dir: Path | None = None  # a built OHIF (`make viewer`), served at /viewer
    viewer_url: str = "{base}/viewer?StudyInstanceUIDs={study}"
    oidc: OidcSettings | None = None  # single sign-on (`garde.web.sso`); None: tokens only

    @property
    def base_url(self) -> str:
        """Where readers reach the web part (no trailing slash)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls else "http"
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104
        return f"{scheme}://{host}:{self.port}"


BUILTIN_WINDOW_PRESETS = (
    "stroke",
    "subdural",
    "cta",
    "bone",
    "lung",
    "brain",
    "mediastinum",
    "abdomen",
)
"""Names of the window presets built into `garde.viewer_export.presets` (a test keeps
them in step); config may override their keys or add new presets."""


@dataclass(frozen=True, slots=True)
class WindowPresetSettings:
    """A ``[previews.presets.NAME]`` table: overrides keys of a built-in preset, or adds one.

    None means "keep the built-in value"; a new preset needs ``center`` and ``width``.
    """

    name: str
    center: float | None = None
    width: float | None = None
    function: str | None = None  # LINEAR, LINEAR_EXACT or SIGMOID
    modalities: tuple[str, ...] | None = None
    body_parts: tuple[str, ...] | None = None
    keywords: tuple[str, ...] | None = None
    mip_slab_mm: float | None = None  # set: a thick-slab MIP is rendered too


@dataclass(frozen=True, slots=True)
class PreviewSettings:
    """Preview rendering (thumbnails, key image, montage, MIP, study page)."""

    dir: Path = Path("data/previews")
    thumbnail_px: int = 256
    quality: int = 85
    format: str = "jpeg"  # jpeg or webp
    key_px: int = 512  # the key (middle slice) image and the MIP
    montage_slices: int = 16
    montage_tile_px: int = 160
    workers: int = 2  # rendering threads of `garde serve`
    presets: tuple[WindowPresetSettings, ...] = ()
    rule_presets: tuple[tuple[str, str], ...] = ()  # (triage rule, preset) over the built-in map


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Periods of the background jobs, in seconds."""

    stability_sweep_s: float = 5.0
    sla_watch_s: float = 30.0
    replan_s: float = 300.0
    replan_time_limit_s: float = 2.0
    handover_s: float = 60.0  # shift handover check
    uncovered_routine_delay_s: float = 1800.0  # routine work of an uncovered site waits this long
    retention_s: float = 3600.0  # retention purge run
    retention_days: float = 30.0  # pixel data kept this long after the report
    # Several serve nodes on one database (issue 12 items 4, 5).
    store_watch_s: float = 5.0  # each node looks at the roster/config generations this often
    leader_lease_s: float = 6.0  # the job leader's lease: not renewed for this long, it expires
    leader_renew_s: float = 1.0  # the leader renews (a standby asks) this often


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """Where notifications go besides the log."""

    webhook_url: str | None = None
    webhook_timeout_s: float = 5.0
    webhook_attempts: int = 5  # tries per notification before it is given up (logged)
    webhook_backoff_s: float = 1.0  # first retry delay, doubled at each retry


DEFAULT_ASSIGNED_PRIORITIES = frozenset({"stroke", "emergency", "urgent"})
"""Priorities whose assignment is notified by default (``[notify] assigned_priorities``)."""


@dataclass(frozen=True, slots=True)
class NightSafetySettings:
    """How notifications outlast an outage and reach someone (``[notify]``, issue 12).

    Notifications of an open study are retried, with a backoff doubling from
    ``webhook_backoff_s`` up to ``webhook_backoff_max_s``, for as long as the study is
    open; ``webhook_attempts`` bounds only notifications about no open study. A stroke
    or emergency notification not acknowledged within ``ack_timeout_min`` escalates to
    the next tier (supervisors on shift, then the medical director).
    """

    assigned_priorities: frozenset[str] = DEFAULT_ASSIGNED_PRIORITIES
    webhook_backoff_max_s: float = 60.0
    ack_timeout_min: float = 5.0
    unassigned_repeat_min: float = 5.0  # an `unassigned` notice repeats this often


@dataclass(frozen=True, slots=True)
class RegionSettings:
    """``[region]``: who answers for the region at night.

    ``medical_director`` is required: a radiologist id (who is then assigned what no one
    on shift or on call may read) or a contact (an e-mail address or a phone number, to
    whom the ``unassigned`` notifications are addressed).
    """

    medical_director: str = ""


@dataclass(frozen=True, slots=True)
class DirectorySettings:
    """``[directory]``: which rows of the national directory's extract are imported
    (`garde directory import`): profession codes (10: physician) and savoir-faire codes
    (SM44 radio-diagnostic, SM28 nuclear medicine)."""

    professions: frozenset[str] = frozenset({"10"})
    specialties: frozenset[str] = frozenset({"SM44", "SM28"})


class SiteCover(StrEnum):
    """When roster validation wants every site covered (stroke is always every hour)."""

    ON_CALL = "on_call"  # nights, weekends and public holidays (PDSIMG hours)
    ALWAYS = "always"  # every hour, weekday daytime included


@dataclass(frozen=True, slots=True)
class GridCode:
    """What a cell code of a grid roster (radiologists x days) means: a shift of ``role``
    from ``start`` to ``end`` local time on that day (an ``end`` not after ``start`` ends
    the next morning, as a night does)."""

    role: str
    start: time
    end: time


DEFAULT_ROLES = ("oncall", "night", "day", "stroke", "backup")
# French planners' words for the roles (matched without case or accents).
DEFAULT_ROLE_ALIASES = {
    "nuit": "night",
    "jour": "day",
    "journee": "day",
    "garde": "oncall",
    "astreinte": "oncall",
    "avc": "stroke",
    "renfort": "backup",
}
DEFAULT_GRID_CODES = {
    "N": GridCode("night", time(20, 0), time(8, 0)),
    "J": GridCode("day", time(8, 0), time(20, 0)),
    "S": GridCode("stroke", time(8, 0), time(20, 0)),
}


@dataclass(frozen=True, slots=True)
class RosterSettings:
    """The roster rules ``[rosters]``: validation and generation apply the same ones.

    Stroke cover (the ``neuro`` skill, or a radiologist of ``stroke_pool``) is checked
    every hour; ``site_cover`` says when each site must be covered.
    """

    timezone: str = "Europe/Paris"  # wall-clock times of rosters and of --from days
    stroke_pool: frozenset[str] = frozenset()  # radiologist ids that count as stroke readers
    rest_after_night_h: float = 11.0  # repos de sécurité after a night on call
    max_consecutive_nights: int = 3
    max_weekly_hours: float = 48.0
    night_staff: int = 2  # generation: radiologists on each night
    day_staff: int = 2  # generation: radiologists on each weekend or holiday day
    stroke_day_staff: int = 1  # generation: stroke readers on each weekday daytime (0: none)
    site_cover: SiteCover = SiteCover.ON_CALL
    # --- planner's import and generation (issue 17): additive keys ---
    max_shift_hours: float = 24.0  # a longer shift (or an all-day .ics event) is refused
    roles: tuple[str, ...] = DEFAULT_ROLES  # the roles a roster may name
    role_aliases: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROLE_ALIASES))
    grid_codes: Mapping[str, GridCode] = field(default_factory=lambda: dict(DEFAULT_GRID_CODES))
    grid_off_codes: tuple[str, ...] = ("-", "R", "RS", "CA", "OFF")  # grid cells: no shift
    hours_fairness: int = 1  # generation: cost per weighted hour away from one's fair share
    night_hours_weight: float = 1.5  # generation: an hour of night counts this much
    weekend_hours_weight: float = 1.5  # generation: an hour of weekend or holiday day


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Garde is configured with. Valid once built (see `loader.py`)."""

    source: Path | None = None  # the TOML file these came from, for error messages
    environment: Environment = Environment.PRODUCTION
    data_dir: Path = Path("data")
    database_url: str = ""  # empty: a SQLite file in data_dir
    roster_file: Path | None = None  # CSV roster imported at start, if set
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    previews: PreviewSettings = field(default_factory=PreviewSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    sites: tuple[Site, ...] = ()
    radiologists: tuple[Radiologist, ...] = ()
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    triage_rules: tuple[TriageRule, ...] = ()
    reading_times: ReadingTimes = field(default_factory=ReadingTimes)
    rosters: RosterSettings = field(default_factory=RosterSettings)
    region: RegionSettings = field(default_factory=RegionSettings)
    night_safety: NightSafetySettings = field(default_factory=NightSafetySettings)
    directory: DirectorySettings = field(default_factory=DirectorySettings)
    web: WebSettings = field(default_factory=WebSettings)
    reporting: ReportingSettings = field(default_factory=ReportingSettings)

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'garde.sqlite').resolve()}"

    def site_by_ae(self) -> dict[str, Site]:
        """Calling AE title -> site."""
        return {ae: site for site in self.sites for ae in site.ae_titles}
