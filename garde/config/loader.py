"""Load `Settings` from a TOML file, validate everything, fail listing every bad key.

Environment variables ``GARDE_<KEY>`` override top-level keys and ``GARDE_<TABLE>__<KEY>``
keys of a table (e.g. ``GARDE_GATEWAY__PORT=11113``); values are parsed as TOML
scalars when they can be, else taken as strings.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import time, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from garde.config._reader import Reader
from garde.config.errors import ConfigError, ConfigProblem
from garde.config.model import (
    BUILTIN_WINDOW_PRESETS,
    DEFAULT_ASSIGNED_PRIORITIES,
    DirectorySettings,
    Environment,
    GatewaySettings,
    GridCode,
    NightSafetySettings,
    NotifySettings,
    OidcSettings,
    OverwritePolicy,
    PreviewSettings,
    RegionSettings,
    RosterSettings,
    SchedulerSettings,
    Settings,
    SiteCover,
    TlsSettings,
    WebSettings,
    WindowPresetSettings,
)
from garde.config.reporting import parse_reporting
from garde.directory.model import rpps_valid
from garde.dispatch.model import (
    EscalationTiers,
    Priority,
    Radiologist,
    ReadingTimes,
    Site,
    SlaPolicy,
    TriageRule,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

EXAMPLE_NAME = "example.toml"
ENV_PREFIX = "GARDE_"


def example_path() -> Path:
    """The embedded example region shipped with the package (used by the demo)."""
    return Path(str(resources.files("garde.config").joinpath(EXAMPLE_NAME)))


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, override from the environment, and validate settings.

    Parameters
    ----------
    path
        The TOML file; None loads the embedded example region.
    environ
        Overrides (``GARDE_*``); pass ``os.environ`` from the CLI, nothing in tests.

    Raises
    ------
    ConfigError
        Listing every problem, each naming the file and the dotted key.
    """
    path = example_path() if path is None else path
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(file, "(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([ConfigProblem(file, "(file)", f"cannot read: {reason}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(file, "(syntax)", f"invalid TOML: {exc}")]) from None
    problems: list[ConfigProblem] = []
    _apply_environment(data, environ or {}, file, problems)
    settings = _parse(Reader(file, data, problems), path)
    if problems:
        raise ConfigError(problems)
    return settings


def _apply_environment(
    data: dict[str, Any], environ: Mapping[str, str], file: str, problems: list[ConfigProblem]
) -> None:
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name.startswith(f"{ENV_PREFIX}TEST"):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if parts == ["config"]:  # GARDE_CONFIG names the file itself
            continue
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        table = data
        for part in parts[:-1]:
            child = table.setdefault(part, {})
            if not isinstance(child, dict):
                problems.append(ConfigProblem(file, name, f"{part} is not a table"))
                break
            table = child
        else:
            table[parts[-1]] = value


def _parse(root: Reader, path: Path) -> Settings:
    environment = _enum(root, "environment", Environment, Environment.PRODUCTION)
    data_dir = Path(root.scalar("data_dir", str, "data") or "data")
    roster = root.scalar("roster_file", str, "")
    sites = _sites(root)
    # Every declared id counts, valid or not, so one bad site is reported once, not again
    # in every radiologist credentialed for it.
    site_ids = {t["id"] for t in root.table.get("sites", []) if isinstance(t, dict) and "id" in t}
    notify_reader = root.sub("notify")
    night_safety = _night_safety(notify_reader)  # its keys first: `_notify` rejects the rest
    radiologists = _radiologists(root, site_ids)
    # An RPPS number stands for the radiologist's id wherever config names one.
    by_rpps = {rad.rpps: rad.id for rad in radiologists if rad.rpps}
    region, radiologists = _region(root.sub("region"), radiologists, by_rpps)
    settings = Settings(
        source=path,
        environment=environment,
        data_dir=data_dir,
        database_url=root.scalar("database_url", str, "") or "",
        roster_file=Path(roster) if roster else None,
        gateway=_gateway(root.sub("gateway"), data_dir),
        previews=_previews(root.sub("previews"), data_dir),
        scheduler=_scheduler(root.sub("scheduler")),
        notify=_notify(notify_reader),
        sites=sites,
        radiologists=radiologists,
        sla=_sla(root.sub("sla")),
        triage_rules=_triage_rules(root.sub("triage"), site_ids),
        reading_times=_reading_times(root.sub("reading_times")),
        rosters=_rosters(root.sub("rosters"), _declared_ids(root, "radiologists"), by_rpps),
        region=region,
        night_safety=night_safety,
        directory=_directory(root.sub("directory")),
        web=_web(root.sub("web")),
        reporting=parse_reporting(root.sub("reporting"), site_ids),
    )
    root.reject_unknown()
    return settings


def _declared_ids(root: Reader, name: str) -> set[str]:
    """The ``id`` of every ``[[name]]`` table, valid or not: a pool naming a radiologist
    whose table has another problem is not reported a second time."""
    tables = root.table.get(name, [])
    if not isinstance(tables, list):
        return set()
    return {t["id"] for t in tables if isinstance(t, dict) and isinstance(t.get("id"), str)}


def _enum(reader: Reader, name: str, kind: type[Any], default: Any) -> Any:
    raw = reader.scalar(name, str, default.value)
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        reader.problem(name, f"expected one of {allowed}, got {raw!r}")
        return default


def _gateway(r: Reader, data_dir: Path) -> GatewaySettings:
    d = GatewaySettings()
    ae = r.scalar("ae_title", str, d.ae_title) or d.ae_title
    if not 0 < len(ae) <= 16:
        r.problem("ae_title", f"expected 1 to 16 characters, got {ae!r}")
    tls_reader = r.sub("tls")
    tls = None
    if tls_reader.table:
        cert = tls_reader.scalar("cert_file", str)
        key = tls_reader.scalar("key_file", str)
        ca = tls_reader.scalar("ca_file", str, "")
        require = tls_reader.flag("require_client_cert")
        if require and not ca:
            tls_reader.problem("ca_file", "required when require_client_cert is true")
        if cert and key:
            tls = TlsSettings(Path(cert), Path(key), Path(ca) if ca else None, require)
        tls_reader.reject_unknown()
    storage = r.scalar("storage_dir", str, "storage") or "storage"
    settings = GatewaySettings(
        ae_title=ae,
        host=r.scalar("host", str, d.host) or d.host,
        port=r.integer("port", d.port, minimum=0, maximum=65535),
        storage_dir=data_dir / storage,
        stable_age_s=r.number("stable_age_s", d.stable_age_s, strict=True),
        stroke_stable_age_s=r.number("stroke_stable_age_s", d.stroke_stable_age_s, strict=True),
        max_associations=r.integer("max_associations", d.max_associations, minimum=1),
        acse_timeout_s=r.number("acse_timeout_s", d.acse_timeout_s, strict=True),
        network_timeout_s=r.number("network_timeout_s", d.network_timeout_s, strict=True),
        dimse_timeout_s=r.number("dimse_timeout_s", d.dimse_timeout_s, strict=True),
        check_called_ae=r.flag("check_called_ae", default=d.check_called_ae),
        workers=r.integer("workers", d.workers, minimum=0),
        tls=tls,
        overwrite_policy=_enum(r, "overwrite_policy", OverwritePolicy, d.overwrite_policy),
        conflicts_dir=_conflicts_dir(r, data_dir),
        index_after_answer=r.flag("index_after_answer", default=d.index_after_answer),
        max_request_bytes=r.integer("max_request_bytes", d.max_request_bytes, minimum=1024),
        max_pdu_bytes=r.integer("max_pdu_bytes", d.max_pdu_bytes, minimum=16384),
        max_pending_per_address=r.integer(
            "max_pending_per_address", d.max_pending_per_address, minimum=1
        ),
        max_pending_connections=r.integer(
            "max_pending_connections", d.max_pending_connections, minimum=1
        ),
    )
    r.reject_unknown()
    return settings


def _tls(r: Reader) -> TlsSettings | None:
    """A ``tls`` table (certificate and key; optionally a CA to verify clients against)."""
    if not r.table:
        return None
    cert = r.scalar("cert_file", str)
    key = r.scalar("key_file", str)
    ca = r.scalar("ca_file", str, "")
    require = r.flag("require_client_cert")
    if require and not ca:
        r.problem("ca_file", "required when require_client_cert is true")
    r.reject_unknown()
    if cert and key:
        return TlsSettings(Path(cert), Path(key), Path(ca) if ca else None, require)
    return None


def _web(r: Reader) -> WebSettings:
    d = WebSettings()
    viewer_dir = r.scalar("viewer_dir", str, "") or ""
    viewer_url = r.scalar("viewer_url", str, d.viewer_url) or d.viewer_url
    if "{study}" not in viewer_url:
        r.problem("viewer_url", f"expected a template with {{study}}, got {viewer_url!r}")
    public_url = r.scalar("public_url", str, "") or ""
    if public_url and not public_url.startswith(("http://", "https://")):
        r.problem("public_url", f"expected an http:// or https:// URL, got {public_url!r}")
    settings = WebSettings(
        enabled=r.flag("enabled", default=d.enabled),
        host=r.scalar("host", str, d.host) or d.host,
        port=r.integer("port", d.port, minimum=0, maximum=65535),
        tls=_tls(r.sub("tls")),
        public_url=public_url,
        cors_origins=r.string_list("cors_origins", ()),
        viewer_dir=Path(viewer_dir) if viewer_dir else None,
        viewer_url=viewer_url,
        oidc=_oidc(r.sub("oidc")) if "oidc" in r.table else None,
    )
    r.reject_unknown()
    return settings


def _oidc(r: Reader) -> OidcSettings | None:
    """``[web.oidc]``: the provider's issuer URL and Garde's client registration."""
    issuer = r.scalar("issuer", str) or ""
    client_id = r.scalar("client_id", str) or ""
    if issuer and not issuer.startswith(("https://", "http://")):
        r.problem("issuer", f"expected the provider's https:// URL, got {issuer!r}")
    settings = OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=r.scalar("client_secret", str, "") or "",
        scopes=r.string_list("scopes", ("openid", "profile")),
        subject_claim=r.scalar("subject_claim", str, "sub") or "sub",
        session_ttl_min=r.number("session_ttl_min", 720.0, strict=True),
    )
    r.reject_unknown()
    return settings if issuer and client_id else None


def _conflicts_dir(r: Reader, data_dir: Path) -> Path | None:
    """``[gateway] conflicts_dir`` (under data_dir); absent: beside the storage folder."""
    name = r.scalar("conflicts_dir", str, "")
    return data_dir / name if name else None


def _previews(r: Reader, data_dir: Path) -> PreviewSettings:
    d = PreviewSettings()
    fmt = r.scalar("format", str, d.format) or d.format
    if fmt not in {"jpeg", "webp"}:
        r.problem("format", f"expected jpeg or webp, got {fmt!r}")
    presets_reader = r.sub("presets")
    presets = tuple(_window_preset(presets_reader, name) for name in list(presets_reader.table))
    known = set(BUILTIN_WINDOW_PRESETS) | {p.name for p in presets}
    rule_presets = r.mapping("rule_presets", lambda _, v: v if isinstance(v, str) else None)
    for rule, preset in rule_presets.items():
        if preset not in known:
            r.sub("rule_presets").problem(
                rule, f"unknown window preset {preset!r} (known: {', '.join(sorted(known))})"
            )
    settings = PreviewSettings(
        dir=data_dir / (r.scalar("dir", str, "previews") or "previews"),
        thumbnail_px=r.integer("thumbnail_px", d.thumbnail_px, minimum=32, maximum=2048),
        quality=r.integer("quality", d.quality, minimum=1, maximum=100),
        format=fmt,
        key_px=r.integer("key_px", d.key_px, minimum=64, maximum=4096),
        montage_slices=r.integer("montage_slices", d.montage_slices, minimum=1, maximum=100),
        montage_tile_px=r.integer("montage_tile_px", d.montage_tile_px, minimum=32, maximum=1024),
        workers=r.integer("workers", d.workers, minimum=1, maximum=64),
        presets=presets,
        rule_presets=tuple(rule_presets.items()),
    )
    r.reject_unknown()
    return settings


def _window_preset(parent: Reader, name: str) -> WindowPresetSettings:
    """One ``[previews.presets.NAME]`` table (keys left out keep the built-in values)."""
    r = parent.sub(name)
    center = r.scalar("center", float, None)
    width = r.scalar("width", float, None)
    function = r.scalar("function", str, None)
    if function is not None and function.upper() not in {"LINEAR", "LINEAR_EXACT", "SIGMOID"}:
        r.problem("function", f"expected LINEAR, LINEAR_EXACT or SIGMOID, got {function!r}")
        function = None
    if width is not None and (
        width <= 0 or ((function or "LINEAR").upper() == "LINEAR" and width < 1)
    ):
        r.problem("width", f"expected a width >= 1 (> 0 for LINEAR_EXACT, SIGMOID), got {width}")
        width = None
    if name not in BUILTIN_WINDOW_PRESETS and (center is None or width is None):
        r.problem("center", "a new preset needs center and width")
    slab = r.scalar("mip_slab_mm", float, None)
    if slab is not None and slab <= 0:
        r.problem("mip_slab_mm", f"expected a number > 0, got {slab}")
        slab = None
    lists = {
        key: tuple(v.upper() for v in r.string_list(key)) if key in r.table else None
        for key in ("modalities", "body_parts", "keywords")
    }
    r.reject_unknown()
    return WindowPresetSettings(
        name=name,
        center=center,
        width=width,
        function=function.upper() if function else None,
        modalities=lists["modalities"],
        body_parts=lists["body_parts"],
        keywords=lists["keywords"],
        mip_slab_mm=slab,
    )


def _scheduler(r: Reader) -> SchedulerSettings:
    d = SchedulerSettings()
    settings = SchedulerSettings(
        stability_sweep_s=r.number("stability_sweep_s", d.stability_sweep_s, strict=True),
        sla_watch_s=r.number("sla_watch_s", d.sla_watch_s, strict=True),
        replan_s=r.number("replan_s", d.replan_s, strict=True),
        replan_time_limit_s=r.number("replan_time_limit_s", d.replan_time_limit_s, strict=True),
        handover_s=r.number("handover_s", d.handover_s, strict=True),
        store_watch_s=r.number("store_watch_s", d.store_watch_s, strict=True),
        leader_lease_s=r.number("leader_lease_s", d.leader_lease_s, strict=True),
        leader_renew_s=r.number("leader_renew_s", d.leader_renew_s, strict=True),
        uncovered_routine_delay_s=r.number(
            "uncovered_routine_delay_s", d.uncovered_routine_delay_s
        ),
        retention_s=r.number("retention_s", d.retention_s, strict=True),
        retention_days=r.number("retention_days", d.retention_days),
    )
    if settings.leader_lease_s < 2 * settings.leader_renew_s:
        r.problem(
            "leader_lease_s",
            f"must be at least twice leader_renew_s ({settings.leader_renew_s:g}), "
            f"got {settings.leader_lease_s:g}",
        )
    r.reject_unknown()
    return settings


def _notify(r: Reader) -> NotifySettings:
    d = NotifySettings()
    url = r.scalar("webhook_url", str, "") or None
    if url is not None and not url.startswith(("http://", "https://")):
        r.problem("webhook_url", f"expected an http:// or https:// URL, got {url!r}")
    settings = NotifySettings(
        webhook_url=url,
        webhook_timeout_s=r.number("webhook_timeout_s", d.webhook_timeout_s, strict=True),
        webhook_attempts=r.integer("webhook_attempts", d.webhook_attempts, minimum=1),
        webhook_backoff_s=r.number("webhook_backoff_s", d.webhook_backoff_s),
    )
    r.reject_unknown()
    return settings


def _night_safety(r: Reader) -> NightSafetySettings:
    """The ``[notify]`` keys of issue 12 (the caller's `_notify` rejects unknown ones)."""
    d = NightSafetySettings()
    raw = r.string_list("assigned_priorities", tuple(sorted(DEFAULT_ASSIGNED_PRIORITIES)))
    for value in raw:
        if _priority(value) is None:
            r.problem("assigned_priorities", _priority_message(value))
    return NightSafetySettings(
        assigned_priorities=frozenset(v for v in raw if _priority(v) is not None),
        webhook_backoff_max_s=r.number(
            "webhook_backoff_max_s", d.webhook_backoff_max_s, strict=True
        ),
        ack_timeout_min=r.number("ack_timeout_min", d.ack_timeout_min, strict=True),
        unassigned_repeat_min=r.number(
            "unassigned_repeat_min", d.unassigned_repeat_min, strict=True
        ),
    )


def _region(
    r: Reader, radiologists: tuple[Radiologist, ...], by_rpps: Mapping[str, str]
) -> tuple[RegionSettings, tuple[Radiologist, ...]]:
    """``[region]``; the radiologist named medical director (by id or RPPS number) is
    marked as such."""
    read = r.scalar("medical_director", str, "")
    director = read or ""
    director = by_rpps.get(director.strip(), director)
    r.reject_unknown()
    ids = {rad.id for rad in radiologists}
    if read is None:
        pass  # a wrong type, already reported
    elif not director.strip():
        r.problem(
            "medical_director",
            "required: who takes a study no one on shift or on call may read "
            '(a radiologist id, e.g. medical_director = "r00", or an e-mail or phone contact)',
        )
    elif director not in ids and not _is_contact(director):
        r.problem(
            "medical_director",
            f"unknown radiologist {director!r} (known: {', '.join(sorted(ids))}); "
            "a contact needs an e-mail address or a phone number",
        )
    marked = tuple(
        replace(rad, medical_director=True) if rad.id == director else rad for rad in radiologists
    )
    return RegionSettings(medical_director=director.strip()), marked


def _is_contact(value: str) -> bool:
    """An e-mail address or a phone number (a radiologist id is neither)."""
    digits = sum(c.isdigit() for c in value)
    return "@" in value or (value.lstrip().startswith(("+", "0")) and digits >= 6)


HOURS_PER_WEEK = 168.0


def _rosters(r: Reader, radiologist_ids: set[str], by_rpps: Mapping[str, str]) -> RosterSettings:
    d = RosterSettings()
    tz = r.scalar("timezone", str, d.timezone) or d.timezone
    _check_timezone(r, "timezone", tz)
    pool = tuple(by_rpps.get(rid, rid) for rid in r.string_list("stroke_pool", ()))
    for rid in pool:
        if rid not in radiologist_ids:
            known = ", ".join(sorted(radiologist_ids))
            r.problem("stroke_pool", f"unknown radiologist {rid!r} (known: {known})")
    weekly = r.number("max_weekly_hours", d.max_weekly_hours, strict=True)
    if weekly > HOURS_PER_WEEK:
        r.problem("max_weekly_hours", f"expected at most {HOURS_PER_WEEK:g} hours, got {weekly:g}")
        weekly = d.max_weekly_hours
    settings = RosterSettings(
        timezone=tz,
        stroke_pool=frozenset(pool),
        rest_after_night_h=r.number("rest_after_night_h", d.rest_after_night_h),
        max_consecutive_nights=r.integer(
            "max_consecutive_nights", d.max_consecutive_nights, minimum=1
        ),
        max_weekly_hours=weekly,
        night_staff=r.integer("night_staff", d.night_staff, minimum=1),
        day_staff=r.integer("day_staff", d.day_staff, minimum=1),
        stroke_day_staff=r.integer("stroke_day_staff", d.stroke_day_staff, minimum=0),
        site_cover=_enum(r, "site_cover", SiteCover, d.site_cover),
    )
    settings = _roster_planning(r, settings)
    r.reject_unknown()
    return settings


def _roster_planning(r: Reader, base: RosterSettings) -> RosterSettings:
    """The planner's keys of ``[rosters]`` (issue 17): shift length, roles, grid codes,
    hours fairness."""
    roles = r.string_list("roles", base.roles)
    if not roles:
        r.problem("roles", "expected at least one role")
        roles = base.roles
    aliases = {**base.role_aliases, **r.mapping("role_aliases", _str_value)}
    for alias, role in sorted(aliases.items()):
        if role not in roles:
            r.sub("role_aliases").problem(alias, f"{role!r} is not one of roles {list(roles)}")
    codes = {**base.grid_codes, **r.mapping("grid_codes", _grid_code)}
    for code, grid in sorted(codes.items()):
        if grid.role not in roles:
            r.sub("grid_codes").problem(code, f"role {grid.role!r} is not one of {list(roles)}")
    max_shift = r.number("max_shift_hours", base.max_shift_hours, strict=True)
    if not 0 < max_shift <= HOURS_PER_WEEK:
        r.problem("max_shift_hours", f"expected a number of hours in (0, 168], got {max_shift:g}")
        max_shift = base.max_shift_hours
    return replace(
        base,
        max_shift_hours=max_shift,
        roles=roles,
        role_aliases=aliases,
        grid_codes=codes,
        grid_off_codes=r.string_list("grid_off_codes", base.grid_off_codes),
        hours_fairness=r.integer("hours_fairness", base.hours_fairness, minimum=0),
        night_hours_weight=r.number("night_hours_weight", base.night_hours_weight),
        weekend_hours_weight=r.number("weekend_hours_weight", base.weekend_hours_weight),
    )


def _str_value(_key: str, raw: Any) -> str | None:
    return raw if isinstance(raw, str) and raw else None


def _grid_code(_key: str, raw: Any) -> GridCode | None:
    """``{ role = "night", start = "20:00", end = "08:00" }``; None if malformed."""
    if not isinstance(raw, dict) or set(raw) != {"role", "start", "end"}:
        return None
    try:
        return GridCode(
            str(raw["role"]), time.fromisoformat(raw["start"]), time.fromisoformat(raw["end"])
        )
    except (TypeError, ValueError):
        return None


def _sites(root: Reader) -> tuple[Site, ...]:
    sites: list[Site] = []
    seen_ids: set[str] = set()
    seen_ae: dict[str, str] = {}
    for r in root.tables("sites"):
        site_id = r.scalar("id", str)
        name = r.scalar("name", str)
        aes = r.string_list("ae_titles")
        tz = r.scalar("timezone", str, "Europe/Paris") or "Europe/Paris"
        _check_timezone(r, "timezone", tz)
        stable = r.scalar("stable_age_s", float, None)
        ip_allow = r.string_list("ip_allow", ())
        r.reject_unknown()
        if site_id in seen_ids:
            r.problem("id", f"duplicate site id {site_id!r}")
        for ae in aes:
            if not 0 < len(ae) <= 16:
                r.problem("ae_titles", f"AE title {ae!r} must be 1 to 16 characters")
            elif ae in seen_ae:
                r.problem(
                    "ae_titles", f"duplicate AE title {ae!r}, already used by site {seen_ae[ae]!r}"
                )
            else:
                seen_ae[ae] = site_id or "?"
        if not aes and "ae_titles" in r.table:
            r.problem("ae_titles", "expected at least one AE title")
        if site_id and name and aes and site_id not in seen_ids:
            seen_ids.add(site_id)
            try:
                sites.append(Site(site_id, name, frozenset(aes), tz, stable, ip_allow))
            except ValueError as exc:
                r.problem("id", str(exc))
    if not sites and not root.problems:
        root.problem("sites", "expected at least one [[sites]] table")
    return tuple(sites)


def _check_timezone(r: Reader, key: str, tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.problem(key, f"unknown time zone {tz!r} (expected an IANA name such as Europe/Paris)")


def _radiologists(root: Reader, site_ids: set[str]) -> tuple[Radiologist, ...]:
    result: list[Radiologist] = []
    seen: set[str] = set()
    for r in root.tables("radiologists"):
        rpps = r.scalar("rpps", str, "") or ""
        if rpps and not rpps_valid(rpps):
            r.problem("rpps", f"{rpps!r} is not an RPPS number (11 digits, Luhn check digit)")
        # With an RPPS number, the id and the name may be left out: the id is then the
        # number, and the name (until the directory gives it) the id.
        rad_id = r.scalar("id", str, rpps) if rpps else r.scalar("id", str)
        name = r.scalar("name", str, rad_id or "") if rpps else r.scalar("name", str)
        skills = r.string_list("skills", ())
        raw_sites = r.table.get("sites")
        if raw_sites == "all":
            r.mark_read("sites")  # "all" is the one non-list value allowed
            sites = tuple(sorted(site_ids))
        else:
            sites = r.string_list("sites")
        for site in sites:
            if site not in site_ids:
                r.problem("sites", f"unknown site {site!r} (known: {', '.join(sorted(site_ids))})")
        max_parallel = r.integer("max_parallel", 12, minimum=1)
        speed = r.number("speed", 1.0, strict=True)
        fallback = r.flag("fallback")
        supervisor = r.flag("supervisor")
        r.reject_unknown()
        if rad_id in seen:
            r.problem("id", f"duplicate radiologist id {rad_id!r}")
        elif rad_id and name:
            seen.add(rad_id)
            result.append(
                Radiologist(
                    rad_id,
                    name,
                    frozenset(skills),
                    frozenset(sites),
                    max_parallel,
                    speed,
                    fallback,
                    supervisor,
                    rpps=rpps,
                )
            )
    return tuple(result)


def _directory(r: Reader) -> DirectorySettings:
    d = DirectorySettings()
    professions = r.string_list("professions", tuple(sorted(d.professions)))
    specialties = r.string_list("specialties", tuple(sorted(d.specialties)))
    r.reject_unknown()
    return DirectorySettings(frozenset(professions), frozenset(specialties))


def _priority(value: str) -> Priority | None:
    try:
        return Priority(value)
    except ValueError:
        return None


def _sla(r: Reader) -> SlaPolicy:
    d = SlaPolicy()
    targets: dict[Priority, timedelta] = dict(d.targets)
    minutes = r.mapping("targets_min", _positive_number)
    for key, value in minutes.items():
        priority = _priority(key)
        if priority is None:
            r.problem(f"targets_min.{key}", _priority_message(key))
        else:
            targets[priority] = timedelta(minutes=value)
    limits = _sla_limits(r, targets)
    weights: dict[Priority, float] = dict(d.weights)
    for key, value in r.mapping("weights", _positive_number).items():
        priority = _priority(key)
        if priority is None:
            r.problem(f"weights.{key}", _priority_message(key))
        else:
            weights[priority] = value
    handover_raw = r.scalar("morning_handover", str, d.morning_handover.strftime("%H:%M"))
    handover = d.morning_handover
    try:
        handover = time.fromisoformat(handover_raw or "")
    except ValueError:
        r.problem("morning_handover", f"expected a time HH:MM, got {handover_raw!r}")
    routine_cutoff = timedelta(
        minutes=r.number("routine_cutoff_min", d.routine_cutoff.total_seconds() / 60)
    )
    day_routine_target = timedelta(
        minutes=r.number("day_routine_min", d.day_routine_target.total_seconds() / 60)
    )
    t = r.sub("tiers")
    dt = d.tiers
    tier_values = (
        t.number("alert", dt.alert, strict=True),
        t.number("reassign", dt.reassign, strict=True),
        t.number("supervisor", dt.supervisor, strict=True),
    )
    t.reject_unknown()
    try:
        tiers = EscalationTiers(*tier_values)
    except ValueError as exc:
        r.problem("tiers", str(exc))
        tiers = dt
    r.reject_unknown()
    return SlaPolicy(
        targets=targets,
        limits=limits,
        morning_handover=handover,
        routine_cutoff=routine_cutoff,
        day_routine_target=day_routine_target,
        tiers=tiers,
        weights=weights,
    )


def _sla_limits(r: Reader, targets: dict[Priority, timedelta]) -> dict[Priority, timedelta]:
    """``[sla.limits_min]``: the contractual limit per priority, never below its target."""
    limits: dict[Priority, timedelta] = {}
    for key, value in r.mapping("limits_min", _positive_number).items():
        priority = _priority(key)
        limit = timedelta(minutes=value)
        if priority is None:
            r.problem(f"limits_min.{key}", _priority_message(key))
        elif priority not in targets:
            r.problem(f"limits_min.{key}", f"{key} has no target in sla.targets_min to bound")
        elif limit < targets[priority]:
            target = targets[priority].total_seconds() / 60
            r.problem(
                f"limits_min.{key}",
                f"expected at least the target ({target:g} min), got {value:g}",
            )
        else:
            limits[priority] = limit
    return limits


def _priority_message(key: str) -> str:
    allowed = ", ".join(p.value for p in Priority)
    return f"unknown priority {key!r} (expected one of {allowed})"


def _positive_number(_key: str, raw: Any) -> float | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
        return float(raw)
    return None


def _reading_times(r: Reader) -> ReadingTimes:
    default = r.number("default", ReadingTimes().default, strict=True)
    table: dict[str, float] = {}
    for key, raw in r.table.items():
        if key == "default":
            continue
        value = _positive_number(key, raw)
        if value is None:
            r.problem(key, f"expected a number of minutes > 0, got {raw!r}")
        else:
            table[key.upper()] = value
    return ReadingTimes(table=table, default=default)


def _triage_rules(r: Reader, site_ids: set[str]) -> tuple[TriageRule, ...]:
    rules: list[TriageRule] = []
    names: set[str] = set()
    for rr in r.tables("rules"):
        name = rr.scalar("name", str)
        priority = _enum(rr, "priority", Priority, Priority.ROUTINE)
        reading = rr.scalar("reading_minutes", float, None)
        if reading is not None and reading <= 0:
            rr.problem("reading_minutes", f"expected a number > 0, got {reading}")
            reading = None
        sites = rr.string_list("sites", ())
        for site in sites:
            if site not in site_ids:
                rr.problem("sites", f"unknown site {site!r}")
        rule = TriageRule(
            name=name or "?",
            priority=priority,
            skills=frozenset(rr.string_list("skills", ())),
            reading_minutes=reading,
            modalities=frozenset(m.upper() for m in rr.string_list("modalities", ())),
            body_parts=frozenset(b.upper() for b in rr.string_list("body_parts", ())),
            keywords=rr.string_list("keywords", ()),
            requested_priorities=frozenset(
                p.upper() for p in rr.string_list("requested_priorities", ())
            ),
            sites=frozenset(sites),
        )
        rr.reject_unknown()
        if name in names:
            rr.problem("name", f"duplicate rule name {name!r}")
        elif name:
            names.add(name)
            rules.append(rule)
    r.reject_unknown()
    return tuple(rules)


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """A copy of ``settings`` with top-level fields replaced (tests, the demo)."""
    return replace(settings, **changes)
