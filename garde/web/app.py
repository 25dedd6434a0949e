"""The HTTP face of Garde: DICOMweb under ``/dicom-web`` (QIDO-RS, WADO-RS), with
bearer-token access, audit and CORS.

Starlette: a small, typed, well-kept ASGI toolkit (routing, requests, CORS) that adds
nothing between a handler and the server, so the retrieve path can be a plain ASGI
callable streaming files (`garde.web.stream`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from garde.dicom_gateway.header import patient_key
from garde.dicom_gateway.patient import INS_OIDS, PatientIdentity, nir_valid
from garde.dicom_gateway.uids import is_valid_uid
from garde.services.identity import OPEN_MODE
from garde.services.study_attributes import fill_missing
from garde.store.repositories.reports import PriorRecord, PriorRepository
from garde.web import instance_data, media, pages, priors, qido, stow, viewer
from garde.web.access import AccessError, Gate
from garde.web.sso import SESSION_COOKIE
from garde.web.stream import InstancesResponse

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from starlette.requests import Request
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Receive, Scope, Send

    from garde.dicom_gateway.intake import IntakeService
    from garde.dispatch.model import Site
    from garde.services.identity import Identity
    from garde.store.dicomweb_index import DicomWebIndex, InstanceMatch, StudyMatch
    from garde.store.records import PatientContext

logger = logging.getLogger(__name__)

PREFIX = "/dicom-web"
UTF8 = {"vr": "CS", "Value": ["ISO_IR 192"]}  # SpecificCharacterSet of every JSON answer
_UID_PARAMS = ("study", "series", "instance")


@dataclass
class WebContext:
    """What the handlers need: the store's index, the gate, where files are."""

    index: DicomWebIndex
    gate: Gate
    storage_dir: Path
    site_ids: Callable[[], Sequence[str]]
    patient_key_secret: bytes
    previews_dir: Path | None = None  # study pages (`garde.viewer_export`)
    patient_context: Callable[[str], PatientContext] | None = None
    viewer_url: Callable[[str, str], str] | None = None  # (study, this server's URL) -> link
    intake: IntakeService | None = None  # STOW-RS: the gateway's intake
    sites: Callable[[], dict[str, Site]] | None = None
    spool_dir: Path | None = None  # where STOW bodies are written as they arrive

    def patient_keys(self, patient_id: str) -> tuple[str, ...]:
        """The hashed keys a PatientID has at each site (as the gateway stores them) and,
        when it is a valid INS, its key across hospitals under each INS authority."""
        keys = [patient_key(self.patient_key_secret, s, patient_id) for s in self.site_ids()]
        if nir_valid(patient_id):
            keys += [
                PatientIdentity(ins=f"{oid}^{patient_id.upper()}").key(self.patient_key_secret, "")
                for oid in sorted(INS_OIDS)
            ]
        return tuple(keys)

    def fill_attributes(self) -> None:
        """Read the attributes of studies that have none yet (new or older studies)."""
        fill_missing(self.index, self.storage_dir)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _origin(request: Request) -> str:
    client = request.client
    return f"http {client.host if client else '?'}"[:64]


def _token(request: Request) -> str | None:
    """The bearer token; for reading requests, a signed-in browser's cookie instead
    (a single sign-on session, or the personal token given at /login)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method in {"GET", "HEAD"}:
        return (
            request.cookies.get(SESSION_COOKIE) or request.cookies.get(viewer.TOKEN_COOKIE) or None
        )
    return None


def _uids(request: Request) -> dict[str, str]:
    """The path's UIDs, checked: anything else (``..``, a name) is refused with 400."""
    found = {}
    for name in _UID_PARAMS:
        value = request.path_params.get(name)
        if value is None:
            continue
        if not is_valid_uid(value):
            raise AccessError(400, f"{name} UID {value[:80]!r} is not a UID (digits and dots)")
        found[name] = value
    return found


def _dicom_json(body: Any) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), media_type=media.DICOM_JSON)


def _element(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


def study_json(match: StudyMatch, base: str) -> dict[str, Any]:
    """A study-level QIDO-RS answer: the stored study attributes and the counts."""
    body = dict(match.dataset)
    body["00080061"] = _element("CS", *match.modalities)
    body["00201206"] = _element("IS", match.series_count)
    body["00201208"] = _element("IS", match.instance_count)
    body["00081190"] = _element("UR", f"{base}/studies/{match.study_uid}")
    body["0020000D"] = _element("UI", match.study_uid)
    body["00080005"] = UTF8  # JSON is UTF-8, whatever the file's character set was
    return dict(sorted(body.items()))


class Handlers:
    """The route handlers, over one `WebContext`."""

    def __init__(self, context: WebContext) -> None:
        self.c = context

    # --- shared -----------------------------------------------------------------------

    async def _who(self, request: Request) -> Identity:
        return await run_in_threadpool(self.c.gate.identify, _token(request), _origin(request))

    async def _study(self, request: Request, action: str) -> tuple[dict[str, str], str | None]:
        """The request's UIDs, once the reader may read the study; and, when the study
        asked is a prior, the study it is a prior of."""
        uids = _uids(request)
        identity = await self._who(request)
        access = await run_in_threadpool(
            self.c.gate.study, identity, uids["study"], action, _origin(request)
        )
        return uids, access.prior_of

    async def _instances(self, request: Request, action: str) -> list[InstanceMatch]:
        uids, prior_of = await self._study(request, action)
        if prior_of is not None:
            found = await run_in_threadpool(
                priors.instances,
                self.c.storage_dir,
                prior_of,
                uids["study"],
                uids.get("series"),
                uids.get("instance"),
            )
        else:
            found = await run_in_threadpool(
                self.c.index.instances, uids["study"], uids.get("series"), uids.get("instance")
            )
        if not found:
            what = "instance" if "instance" in uids else "series" if "series" in uids else "study"
            raise AccessError(404, f"no stored {what} {uids.get(what, uids['study'])}")
        return found

    def _study_dataset(self, study_uid: str) -> dict[str, Any]:
        """The study-level attributes that series and instance answers repeat (as
        Orthanc and dcm4chee do: a reader's client need not ask the study level)."""
        self.c.fill_attributes()
        return self.c.index.study_dataset(study_uid)

    def _base(self, request: Request) -> str:
        return str(request.base_url).rstrip("/") + PREFIX

    # --- QIDO-RS ----------------------------------------------------------------------

    async def search_studies(self, request: Request) -> Response:
        query = qido.parse(request.query_params.multi_items(), qido.STUDY_KEYS)
        media.accepts_json(request.headers.get("accept"))
        study_filter = qido.study_filter(query, self.c.patient_keys)
        identity = await self._who(request)

        def run() -> list[StudyMatch]:
            scope = self.c.gate.scope(identity)
            self.c.fill_attributes()
            found = self.c.index.studies(study_filter, scope)
            self.c.gate.audit(identity, None, "web_search", _origin(request))
            return found

        found = await run_in_threadpool(run)
        base = self._base(request)
        return _dicom_json([study_json(m, base) for m in found])

    async def search_series(self, request: Request) -> Response:
        query = qido.parse(request.query_params.multi_items(), qido.SERIES_KEYS)
        media.accepts_json(request.headers.get("accept"))
        uids, prior_of = await self._study(request, "web_search")
        if prior_of is not None:
            found = await run_in_threadpool(
                priors.series, self.c.storage_dir, prior_of, uids["study"]
            )
            study: dict[str, Any] = {}
        else:
            found = await run_in_threadpool(self.c.index.series, uids["study"])
            study = await run_in_threadpool(self._study_dataset, uids["study"])
        m = query.matches
        if "SeriesInstanceUID" in m:
            wanted = set(qido.uid_list("SeriesInstanceUID", m["SeriesInstanceUID"]))
            found = [s for s in found if s.series_uid in wanted]
        if "Modality" in m:
            found = [s for s in found if s.modality == m["Modality"]]
        if "SeriesNumber" in m:
            found = [s for s in found if str(s.number) == m["SeriesNumber"].strip()]
        found = found[query.offset : query.offset + query.limit]
        base = f"{self._base(request)}/studies/{uids['study']}/series"
        body = []
        for s in found:
            item = {
                **study,
                "0020000D": _element("UI", uids["study"]),
                "0020000E": _element("UI", s.series_uid),
                "00080005": UTF8,
                "00080060": _element("CS", *([s.modality] if s.modality else [])),
                "0008103E": _element("LO", *([s.description] if s.description else [])),
                "00200011": _element("IS", *([s.number] if s.number is not None else [])),
                "00201209": _element("IS", s.instance_count),
                "00081190": _element("UR", f"{base}/{s.series_uid}"),
            }
            body.append(dict(sorted(item.items())))
        return _dicom_json(body)

    async def search_instances(self, request: Request) -> Response:
        query = qido.parse(request.query_params.multi_items(), qido.INSTANCE_KEYS)
        media.accepts_json(request.headers.get("accept"))
        uids, prior_of = await self._study(request, "web_search")
        if prior_of is not None:
            found = await run_in_threadpool(
                priors.instances, self.c.storage_dir, prior_of, uids["study"], uids.get("series")
            )
            study: dict[str, Any] = {}
        else:
            found = await run_in_threadpool(
                self.c.index.instances, uids["study"], uids.get("series")
            )
            study = await run_in_threadpool(self._study_dataset, uids["study"])
        m = query.matches
        if "SeriesInstanceUID" in m:
            wanted = set(qido.uid_list("SeriesInstanceUID", m["SeriesInstanceUID"]))
            found = [i for i in found if i.series_uid in wanted]
        if "SOPInstanceUID" in m:
            wanted = set(qido.uid_list("SOPInstanceUID", m["SOPInstanceUID"]))
            found = [i for i in found if i.sop_instance_uid in wanted]
        if "SOPClassUID" in m:
            found = [i for i in found if i.sop_class_uid == m["SOPClassUID"].strip()]
        if "InstanceNumber" in m:
            found = [i for i in found if str(i.number) == m["InstanceNumber"].strip()]
        found = found[query.offset : query.offset + query.limit]
        base = f"{self._base(request)}/studies/{uids['study']}/series"
        body = []
        for i in found:
            item = {
                **study,
                "0020000D": _element("UI", uids["study"]),
                "0020000E": _element("UI", i.series_uid),
                "00080005": UTF8,
                "00080016": _element("UI", i.sop_class_uid),
                "00080018": _element("UI", i.sop_instance_uid),
                "00200013": _element("IS", *([i.number] if i.number is not None else [])),
                "00083002": _element("UI", i.transfer_syntax),
                "00081190": _element("UR", f"{base}/{i.series_uid}/instances/{i.sop_instance_uid}"),
            }
            body.append(dict(sorted(item.items())))
        return _dicom_json(body)

    # --- WADO-RS ----------------------------------------------------------------------

    async def retrieve(self, request: Request) -> ASGIApp | Response:
        _uids(request)
        found = await self._instances(request, "web_retrieve")
        media.accepts_dicom(request.headers.get("accept"), {i.transfer_syntax for i in found})
        return InstancesResponse([self.c.storage_dir / i.path for i in found])

    async def metadata(self, request: Request) -> Response:
        _uids(request)
        media.accepts_json(request.headers.get("accept"))
        found = await self._instances(request, "web_metadata")
        base = self._base(request)

        def run() -> list[dict[str, Any]]:
            return [
                instance_data.metadata(
                    self.c.storage_dir / i.path,
                    f"{base}/studies/{request.path_params['study']}/series/{i.series_uid}"
                    f"/instances/{i.sop_instance_uid}",
                )
                for i in found
            ]

        return _dicom_json(await run_in_threadpool(run))

    async def frames(self, request: Request) -> Response:
        numbers = _frame_numbers(request.path_params["frames"])
        found = await self._instances(request, "web_frames")
        instance = found[0]
        syntax = media.frame_syntax(request.headers.get("accept"), instance.transfer_syntax)
        parts = await run_in_threadpool(
            instance_data.frames, self.c.storage_dir / instance.path, numbers, syntax
        )
        part_type = media.OCTETS + f"; transfer-syntax={syntax}"
        body = b"".join(media.part_head(part_type) + p + media.PART_END for p in parts)
        return Response(
            body + media.CLOSE,
            headers={"content-type": media.multipart_type(media.OCTETS)},
        )

    async def rendered(self, request: Request) -> Response:
        numbers = _frame_numbers(request.path_params.get("frames", "1"))
        kind = media.rendered_type(request.headers.get("accept"))
        found = await self._instances(request, "web_rendered")
        data = await run_in_threadpool(
            instance_data.rendered, self.c.storage_dir / found[0].path, numbers[0], kind
        )
        return Response(data, media_type=kind)

    async def bulk(self, request: Request) -> Response:
        tag_text = request.path_params["tag"]
        if len(tag_text) != 8 or any(ch not in "0123456789abcdefABCDEF" for ch in tag_text):
            raise AccessError(400, f"{tag_text[:20]!r} is not a tag (8 hex digits)")
        found = await self._instances(request, "web_bulk")
        data = await run_in_threadpool(
            instance_data.bulk, self.c.storage_dir / found[0].path, int(tag_text, 16)
        )
        body = media.part_head(media.OCTETS) + data + media.PART_END + media.CLOSE
        return Response(body, headers={"content-type": media.multipart_type(media.OCTETS)})

    # --- study pages ------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        """``/pages/{study}/[file]``: the study page (previews) with the patient context
        and a link to the viewer, to whoever may read the study; audited."""
        uids = _uids(request)
        identity = await self._who(request)
        await run_in_threadpool(
            self.c.gate.study, identity, uids["study"], "web_page", _origin(request)
        )
        base = str(request.base_url).rstrip("/")
        return await run_in_threadpool(
            self._page, uids["study"], request.path_params.get("file"), base
        )

    def _page(self, study_uid: str, name: str | None, base: str) -> Response:
        folder = (self.c.previews_dir or Path("/nonexistent")).resolve() / study_uid
        if name:  # an image of the page
            target = (folder / name).resolve()
            if not target.is_relative_to(folder) or not target.is_file():
                raise AccessError(404, f"no file {name[:80]!r} on this study's page")
            return FileResponse(target)
        patient = self.c.patient_context(study_uid) if self.c.patient_context else None
        viewer_url = self.c.viewer_url(study_uid, base) if self.c.viewer_url else ""
        banner = pages.banner(study_uid, patient, viewer_url)
        banner += pages.priors(
            [
                (p, self.c.viewer_url(p.prior_uid, base) if self.c.viewer_url else "")
                for p in self._priors(study_uid)
            ]
        )
        index = folder / "index.html"
        body = index.read_text(encoding="utf-8") if index.is_file() else pages.NOT_YET
        return HTMLResponse(pages.with_banner(body, banner))

    def _priors(self, study_uid: str) -> list[PriorRecord]:
        with self.c.gate.uow_factory() as uow:
            return PriorRepository(uow.session).of_study(study_uid)

    # --- STOW-RS ----------------------------------------------------------------------

    async def store(self, request: Request) -> Response:
        """``POST /sites/{site}/studies[/{study}]``: a hospital's instances over HTTP."""
        uids = _uids(request)
        identity = await self._who(request)
        site_id = request.path_params["site"]
        context = self.c
        if context.intake is None or context.sites is None or context.spool_dir is None:
            raise AccessError(404, "this server does not accept STOW-RS")
        if not (identity.is_operator or identity == OPEN_MODE):
            raise AccessError(403, f"{identity.subject} may not store: only an uploader may")
        site = context.sites().get(site_id)
        if site is None:
            raise AccessError(404, f"unknown hospital {site_id[:64]!r} (not in the config)")
        boundary = stow.boundary_of(request.headers.get("content-type", ""))
        context.spool_dir.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        try:
            await stow.spool_parts(request.stream(), boundary, context.spool_dir, paths)
            intake = context.intake
            results = await run_in_threadpool(
                lambda: [stow.store_part(intake, site, p, uids.get("study")) for p in paths]
            )
        finally:
            await run_in_threadpool(stow.remove, paths)
        origin = _origin(request)
        for study_uid in sorted({r.study_uid for r in results if r.status == 0}):
            await run_in_threadpool(context.gate.audit, identity, study_uid, "web_store", origin)
        body = stow.response_body(results, self._base(request))
        stored = sum(1 for r in results if r.status == 0)
        if stored == 0 and all(not r.sop_instance_uid for r in results):
            reasons = "; ".join(r.reason for r in results)
            return JSONResponse({"error": f"nothing stored: {reasons}", **body}, status_code=400)
        code = 200 if stored == len(results) else 202 if stored else 409
        return Response(json.dumps(body), status_code=code, media_type=media.DICOM_JSON)


def _frame_numbers(text: str) -> list[int]:
    try:
        numbers = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise AccessError(400, f"frames {text[:40]!r}: expected numbers like 1 or 1,2,3") from None
    if not numbers or any(n < 1 for n in numbers):
        raise AccessError(400, f"frames {text[:40]!r}: numbers start at 1")
    return numbers


async def _unmatched(request: Request) -> Response:
    """No DICOMweb resource here: 400 for a path that tries to climb or hides a non-UID
    segment (``..``, an encoded slash), else 404."""
    rest = request.path_params.get("rest", "")
    if any(part in {"", ".", ".."} for part in rest.split("/")) or "\\" in rest:
        return _error(400, f"path segments {rest[:80]!r}: expected UIDs (digits and dots)")
    return _error(404, f"no DICOMweb resource at {PREFIX}/{rest[:80]}")


# The first class that matches gives the status (subclasses before their bases).
_STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (qido.QueryError, 400),
    (media.NotAcceptableError, 406),
    (instance_data.FrameError, 404),
    (stow.StowMediaTypeError, 415),
    (stow.StowError, 400),
)
_STATUS_OF_ERROR = tuple(kind for kind, _ in _STATUSES)


def _wrap(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Translate refusals and bad requests to their HTTP status (the boundary)."""

    async def endpoint(request: Request) -> Any:
        try:
            return await handler(request)
        except AccessError as exc:
            headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
            return _error(exc.status, str(exc), headers)
        except _STATUS_OF_ERROR as exc:
            status = next(s for kind, s in _STATUSES if isinstance(exc, kind))
            return _error(status, str(exc))

    return endpoint


class _Dispatch:
    """Lets an endpoint answer with a streaming ASGI callable as well as a Response."""

    def __init__(self, handler: Callable[[Request], Any]) -> None:
        self.handler = _wrap(handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request  # noqa: PLC0415 - only at request time

        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


class _Pages:
    """Signing in from a browser, and the hosted viewer."""

    def __init__(self, context: WebContext, viewer_dir: Path | None, *, secure: bool) -> None:
        self.c = context
        self.viewer_dir = viewer_dir
        self.secure = secure

    async def login_form(self, request: Request) -> Response:
        return viewer.login_page(request)

    async def login(self, request: Request) -> Response:
        from urllib.parse import parse_qs  # noqa: PLC0415 - only when signing in

        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (fields.get("token") or [""])[0].strip()
        target = (fields.get("next") or ["/"])[0]
        try:
            await run_in_threadpool(self.c.gate.identify, token or None, _origin(request))
        except AccessError:
            return viewer.login_page(request, "unknown or revoked token")
        return viewer.signed_in(target, token, secure=self.secure)

    async def viewer_file(self, request: Request) -> Response:
        if self.viewer_dir is None:
            return _error(404, "no viewer is hosted here ([web] viewer_dir)")
        return await run_in_threadpool(
            viewer.viewer_file, self.viewer_dir, request.path_params.get("path", "")
        )


def build_app(
    context: WebContext,
    *,
    cors_origins: Sequence[str] = (),
    viewer_dir: Path | None = None,
    secure: bool = False,
    sign_in: Sequence[BaseRoute] = (),
) -> Starlette:
    """The ASGI application serving DICOMweb over ``context``, the viewer, and
    ``sign_in`` (single sign-on's routes, `garde.web.sso`)."""
    h = Handlers(context)
    browser = _Pages(context, viewer_dir, secure=secure)
    study = PREFIX + "/studies/{study}"
    series = study + "/series/{series}"
    instance = series + "/instances/{instance}"
    routes = [
        Route(PREFIX + "/studies", _Dispatch(h.search_studies), methods=["GET"]),
        Route(study + "/series", _Dispatch(h.search_series), methods=["GET"]),
        Route(study + "/instances", _Dispatch(h.search_instances), methods=["GET"]),
        Route(series + "/instances", _Dispatch(h.search_instances), methods=["GET"]),
        Route(study, _Dispatch(h.retrieve), methods=["GET"]),
        Route(series, _Dispatch(h.retrieve), methods=["GET"]),
        Route(instance, _Dispatch(h.retrieve), methods=["GET"]),
        Route(study + "/metadata", _Dispatch(h.metadata), methods=["GET"]),
        Route(series + "/metadata", _Dispatch(h.metadata), methods=["GET"]),
        Route(instance + "/metadata", _Dispatch(h.metadata), methods=["GET"]),
        Route(instance + "/frames/{frames}", _Dispatch(h.frames), methods=["GET"]),
        Route(instance + "/rendered", _Dispatch(h.rendered), methods=["GET"]),
        Route(instance + "/frames/{frames}/rendered", _Dispatch(h.rendered), methods=["GET"]),
        Route(instance + "/bulk/{tag}", _Dispatch(h.bulk), methods=["GET"]),
        Route(PREFIX + "/sites/{site}/studies", _Dispatch(h.store), methods=["POST"]),
        Route(PREFIX + "/sites/{site}/studies/{study}", _Dispatch(h.store), methods=["POST"]),
        Route(PREFIX + "/{rest:path}", _Dispatch(_unmatched), methods=["GET", "POST"]),
        *sign_in,  # before the viewer's catch-all
        Route("/pages/{study}/", _Dispatch(h.page), methods=["GET"]),
        Route("/pages/{study}/{file:path}", _Dispatch(h.page), methods=["GET"]),
        Route("/app-config.js", viewer.app_config, methods=["GET"]),
        Route("/login", browser.login_form, methods=["GET"]),
        Route("/login", browser.login, methods=["POST"]),
        Route("/{path:path}", browser.viewer_file, methods=["GET"]),
    ]
    middleware = []
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "accept", "content-type"],
                expose_headers=["content-type", "content-length", "content-location"],
            )
        )
    return Starlette(routes=routes, middleware=middleware)
