"""Single sign-on for the web face: OpenID Connect, authorization code with PKCE.

Any conformant provider (Pro Santé Connect among them) is configured in ``[web.oidc]``:
its issuer (metadata read from ``/.well-known/openid-configuration``), the client id and
secret Garde was registered with, and the ID token claim naming the reader (``sub``, or
an RPPS claim), which maps to a radiologist by id or RPPS number. The protocol's checks
(signature against the provider's keys, issuer, audience, expiry, nonce) are joserfc's;
nothing here parses a JWT by hand.

A successful sign-in opens a Garde session (a random id in an HttpOnly cookie, kept in
memory, expiring after ``session_ttl_min``): DICOMweb accepts it like a bearer token.
Logout ends it (and the provider's session, when it says where). Personal tokens stay
for the CLI and machines. If the provider cannot be reached, the sign-in page says so;
the gateway, the CLI and token access keep working.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from garde.config.model import OidcSettings
    from garde.services.identity import Identity

logger = logging.getLogger(__name__)

SESSION_COOKIE = "garde_session"
_STATE_COOKIE = "garde_sso_state"
_LOGIN_TTL_S = 600.0  # from the redirect to the provider to the callback
_HTTP_TIMEOUT_S = 5.0
_ALGORITHMS = ["RS256", "PS256", "ES256"]
_PENDING_LIMIT = 4096


class SsoError(Exception):
    """A sign-in that fails; ``status`` is the HTTP status of the page that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Sessions:
    """Signed-in browsers: session id -> identity, until the session expires."""

    ttl_s: float
    clock: Callable[[], float] = time.time
    _live: dict[str, tuple[Identity, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, identity: Identity) -> str:
        """A new session for ``identity``; returns its id (the cookie's value)."""
        session = secrets.token_urlsafe(32)
        with self._lock:
            now = self.clock()
            for key in [k for k, (_, until) in self._live.items() if until <= now]:
                del self._live[key]
            self._live[session] = (identity, now + self.ttl_s)
        return session

    def identity(self, session: str | None) -> Identity | None:
        """Who holds ``session`` (None: unknown, ended or expired)."""
        if not session:
            return None
        with self._lock:
            found = self._live.get(session)
            if found is None:
                return None
            if found[1] <= self.clock():
                del self._live[session]
                return None
            return found[0]

    def close(self, session: str | None) -> Identity | None:
        """End a session (logout); returns whose it was."""
        with self._lock:
            found = self._live.pop(session or "", None)
        return None if found is None else found[0]


@dataclass(frozen=True, slots=True)
class _Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str = ""


@dataclass(frozen=True, slots=True)
class _Pending:
    nonce: str
    verifier: str
    target: str
    until: float


class OidcLogin:
    """The relying party: builds the provider's sign-in URL, finishes the callback.

    ``resolve`` maps the ID token's subject claim to a Garde identity (None: nobody).
    """

    def __init__(
        self,
        settings: OidcSettings,
        redirect_url: str,
        resolve: Callable[[str], Identity | None],
    ) -> None:
        self.settings = settings
        self.redirect_url = redirect_url
        self.resolve = resolve
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def provider(self) -> _Provider:
        """The provider's metadata (discovery, read at each sign-in: a provider that moved
        or went down is noticed at once).

        Raises
        ------
        SsoError
            503 when the provider cannot be reached or answers nonsense.
        """
        issuer = self.settings.issuer.rstrip("/")
        meta = self._get_json(issuer + "/.well-known/openid-configuration")
        try:
            return _Provider(
                issuer=str(meta["issuer"]),
                authorization_endpoint=str(meta["authorization_endpoint"]),
                token_endpoint=str(meta["token_endpoint"]),
                jwks_uri=str(meta["jwks_uri"]),
                end_session_endpoint=str(meta.get("end_session_endpoint") or ""),
            )
        except (KeyError, TypeError) as exc:
            raise SsoError(503, f"the sign-in provider's metadata lacks {exc}") from None

    def login_url(self, target: str) -> tuple[str, str]:
        """The provider's authorization URL and the state to bind to this browser."""
        provider = self.provider()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # RFC 7636: 43 to 128 characters
        with self._lock:
            now = time.monotonic()
            for key in [k for k, p in self._pending.items() if p.until <= now]:
                del self._pending[key]
            if len(self._pending) >= _PENDING_LIMIT:
                self._pending.clear()
            self._pending[state] = _Pending(nonce, verifier, target, now + _LOGIN_TTL_S)
        params = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": self.redirect_url,
            "scope": " ".join(self.settings.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in provider.authorization_endpoint else "?"
        return provider.authorization_endpoint + separator + urllib.parse.urlencode(params), state

    def finish(self, state: str, browser_state: str | None, code: str) -> tuple[Identity, str]:
        """Exchange the code (with the PKCE verifier), check the ID token, map its subject.

        Raises
        ------
        SsoError
            401 for a state not this browser's or expired, a refused code, or an ID token
            that is forged, expired, for another client or another login; 403 when the
            subject is no Garde radiologist; 503 when the provider cannot be reached.
        """
        if not state or not secrets.compare_digest(state, browser_state or ""):
            raise SsoError(401, "this sign-in was not started from this browser")
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or pending.until <= time.monotonic():
            raise SsoError(401, "this sign-in expired: start again")
        provider = self.provider()
        tokens = self._post_form(
            provider.token_endpoint,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_url,
                "client_id": self.settings.client_id,
                "code_verifier": pending.verifier,
            },
        )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SsoError(401, "the provider gave no ID token")
        claims = self._claims(provider, id_token, pending.nonce)
        subject = claims.get(self.settings.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise SsoError(401, f"the ID token has no {self.settings.subject_claim!r} claim")
        identity = self.resolve(subject)
        if identity is None:
            raise SsoError(403, f"{subject!r} is not a Garde radiologist")
        return identity, pending.target

    def logout_url(self, after: str) -> str:
        """Where to send the browser to end the provider's session too ("" if nowhere)."""
        try:
            endpoint = self.provider().end_session_endpoint
        except SsoError:
            return ""
        if not endpoint:
            return ""
        params = {"client_id": self.settings.client_id, "post_logout_redirect_uri": after}
        return endpoint + ("&" if "?" in endpoint else "?") + urllib.parse.urlencode(params)

    def _claims(self, provider: _Provider, id_token: str, nonce: str) -> dict[str, Any]:
        keys = KeySet.import_key_set(self._get_json(provider.jwks_uri))  # type: ignore[arg-type]
        try:
            token = jwt.decode(id_token, keys, algorithms=_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": provider.issuer},
                aud={"essential": True, "value": self.settings.client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
                exp={"essential": True},
                leeway=30,
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise SsoError(401, f"the ID token is not valid: {exc.__class__.__name__}") from None
        return dict(token.claims)

    def _get_json(self, url: str) -> dict[str, Any]:
        _check_scheme(url)
        request = urllib.request.Request(url, headers={"accept": "application/json"})  # noqa: S310 - http(s) only, checked
        return self._json(request)

    def _post_form(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        headers = {"content-type": "application/x-www-form-urlencoded"}
        if self.settings.client_secret:
            pair = f"{_quote(self.settings.client_id)}:{_quote(self.settings.client_secret)}"
            headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        data = urllib.parse.urlencode(form).encode()
        _check_scheme(url)
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - http(s) only, checked
        return self._json(request)

    def _json(self, request: urllib.request.Request) -> dict[str, Any]:
        where = urllib.parse.urlsplit(request.full_url).netloc
        try:
            with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as answer:  # noqa: S310 - the configured https/http issuer
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise SsoError(401, f"the sign-in provider refused ({exc.code})") from None
        except (OSError, ValueError) as exc:
            logger.warning("sign-in provider %s unreachable: %s", where, exc)
            raise SsoError(503, f"the sign-in provider ({where}) cannot be reached") from None
        if not isinstance(body, dict):
            raise SsoError(503, "the sign-in provider answered something else than JSON")
        return body


def _check_scheme(url: str) -> None:
    """The provider's endpoints are http(s) URLs; never a file or another scheme."""
    if urllib.parse.urlsplit(url).scheme not in {"https", "http"}:
        raise SsoError(503, "the sign-in provider gave an endpoint that is not http(s)")


def _s256(verifier: str) -> str:
    """RFC 7636's S256 code challenge: base64url(SHA-256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _local_path(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _page(status: int, title: str, message: str) -> HTMLResponse:
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Garde: {html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p id='message'>{html.escape(message)}</p>"
        "<p><a href='/sso/login'>Sign in</a></p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


@dataclass
class SsoPages:
    """The three routes: ``/sso/login``, ``/sso/callback``, ``/sso/logout``."""

    login: OidcLogin
    sessions: Sessions
    secure: bool = False  # Secure cookies (the web part is served over HTTPS)
    base_url: str = ""  # where readers reach Garde ("": the request's own address)
    on_event: Callable[[str, str, str], None] | None = None  # (action, subject, outcome)

    def routes(self) -> list[Route]:
        """Starlette routes to add to the web application."""
        return [
            Route("/sso/login", self.start, methods=["GET"]),
            Route("/sso/callback", self.callback, methods=["GET"]),
            Route("/sso/logout", self.logout, methods=["GET", "POST"]),
            Route("/sso/signed-out", self.signed_out, methods=["GET"]),
        ]

    async def start(self, request: Request) -> Response:
        target = _local_path(request.query_params.get("next"))
        try:
            url, state = await run_in_threadpool(self.login.login_url, target)
        except SsoError as exc:
            return _page(exc.status, "Sign-in unavailable", str(exc) + _TOKENS_STILL_WORK)
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            _STATE_COOKIE,
            state,
            max_age=int(_LOGIN_TTL_S),
            httponly=True,
            secure=self.secure,
            samesite="lax",  # sent back on the provider's top-level redirect
            path="/sso",
        )
        return response

    async def callback(self, request: Request) -> Response:
        params = request.query_params
        if params.get("error"):
            self._event("sso_login", "", "refused")
            return _page(401, "Sign-in refused", f"the provider said: {params['error'][:80]}")
        try:
            identity, target = await run_in_threadpool(
                self.login.finish,
                params.get("state", ""),
                request.cookies.get(_STATE_COOKIE),
                params.get("code", ""),
            )
        except SsoError as exc:
            self._event("sso_login", "", "refused")
            return _page(exc.status, "Sign-in refused", str(exc))
        session = self.sessions.open(identity)
        self._event("sso_login", identity.subject, "ok")
        response = RedirectResponse(target, status_code=302)
        response.delete_cookie(_STATE_COOKIE, path="/sso")
        response.set_cookie(
            SESSION_COOKIE,
            session,
            max_age=int(self.sessions.ttl_s),
            httponly=True,
            secure=self.secure,
            samesite="lax",
            path="/",
        )
        return response

    async def logout(self, request: Request) -> Response:
        identity = self.sessions.close(request.cookies.get(SESSION_COOKIE))
        if identity is not None:
            self._event("sso_logout", identity.subject, "ok")
        after = (self.base_url or str(request.base_url)).rstrip("/") + "/sso/signed-out"
        url = await run_in_threadpool(self.login.logout_url, after)
        response: Response = (
            RedirectResponse(url, status_code=302)
            if url
            else _page(200, "Signed out", "You are signed out of Garde.")
        )
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def signed_out(self, _request: Request) -> Response:
        return _page(200, "Signed out", "You are signed out of Garde.")

    def _event(self, action: str, subject: str, outcome: str) -> None:
        if self.on_event is not None:
            self.on_event(action, subject, outcome)


_TOKENS_STILL_WORK = (
    "; personal tokens (garde user token) still work, and the gateway still receives."
)
