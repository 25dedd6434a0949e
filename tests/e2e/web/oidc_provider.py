"""A small OpenID Connect provider for the tests: discovery, authorization code with PKCE
(S256 only), a token endpoint with client authentication, JWKS, end-session.

Its user is already signed in at the provider (``user``), so the browser passes through
without a form, as a reader already signed in to Pro Santé Connect does. ``forge`` signs
the ID token with a key the provider does not publish; ``expired`` dates it an hour back.
ID tokens are made with joserfc; nothing of Garde is used here.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from garde.web.server import WebServer

if TYPE_CHECKING:
    from starlette.requests import Request

CLIENT_ID = "garde-test"
CLIENT_SECRET = "garde-test-secret"  # the test client's registration


@dataclass
class Provider:
    """The provider's state, which the test steers."""

    user: dict[str, str] = field(default_factory=lambda: {"sub": "r01"})
    forge: bool = False
    expired: bool = False
    redirect_uris: list[str] = field(default_factory=list)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    server: WebServer | None = None

    @property
    def issuer(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def start(self) -> Provider:
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
                Route("/logout", self.logout),
            ]
        )
        self.server = WebServer(app, "127.0.0.1", 0)
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    async def discovery(self, _request: Request) -> Response:
        base = self.issuer
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": base + "/authorize",
                "token_endpoint": base + "/token",
                "jwks_uri": base + "/jwks",
                "end_session_endpoint": base + "/logout",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        redirect = q.get("redirect_uri", "")
        if (
            q.get("client_id") != CLIENT_ID
            or redirect not in self.redirect_uris
            or q.get("response_type") != "code"
            or q.get("code_challenge_method") != "S256"
            or not q.get("code_challenge")
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": q["code_challenge"],
            "redirect_uri": redirect,
            "nonce": q.get("nonce", ""),
        }
        target = (
            redirect + "?" + urllib.parse.urlencode({"code": code, "state": q.get("state", "")})
        )
        return RedirectResponse(target, status_code=302)

    async def token(self, request: Request) -> Response:
        form = urllib.parse.parse_qs((await request.body()).decode())
        field_of = {k: v[0] for k, v in form.items()}
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(field_of.get("code", ""), None)
        verifier = field_of.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            grant is None
            or grant["challenge"] != challenge
            or grant["redirect_uri"] != field_of.get("redirect_uri")
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time()) - (3600 if self.expired else 0)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **self.user,
        }
        key = RSAKey.generate_key(2048, parameters={"kid": "k1"}) if self.forge else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "id_token": id_token,
            }
        )

    async def jwks(self, _request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def logout(self, request: Request) -> Response:
        after = request.query_params.get("post_logout_redirect_uri", "")
        if after.startswith("http://127.0.0.1"):
            return RedirectResponse(after, status_code=302)
        return Response("signed out at the provider")
