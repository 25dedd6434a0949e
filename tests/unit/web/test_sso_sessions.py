"""Single sign-on's parts that need no provider: sessions expire and end, a callback not
started by this browser is refused, redirects stay on the site (issue 18, item 2)."""

from __future__ import annotations

import pytest

from garde.config.model import OidcSettings
from garde.services.identity import Identity, Role
from garde.web.sso import OidcLogin, Sessions, SsoError, _local_path, _s256

READER = Identity("r01", Role.RADIOLOGIST)


def test_a_session_expires_and_logout_ends_it() -> None:
    now = [1000.0]
    sessions = Sessions(ttl_s=60, clock=lambda: now[0])
    first, second = sessions.open(READER), sessions.open(READER)
    assert first != second
    assert sessions.identity(first) == READER
    now[0] += 59
    assert sessions.identity(first) == READER
    assert sessions.close(second) == READER
    assert sessions.identity(second) is None
    now[0] += 2
    assert sessions.identity(first) is None  # expired
    assert sessions.identity("made-up") is None
    assert sessions.identity(None) is None


def test_a_callback_not_started_by_this_browser_is_refused() -> None:
    login = OidcLogin(OidcSettings("http://127.0.0.1:9", "garde"), "http://x/cb", lambda _s: None)
    with pytest.raises(SsoError) as caught:
        login.finish("some-state", "another-state", "code")
    assert caught.value.status == 401
    with pytest.raises(SsoError) as caught:
        login.finish("some-state", "some-state", "code")  # never issued here
    assert caught.value.status == 401


def test_an_unreachable_provider_is_503() -> None:
    login = OidcLogin(OidcSettings("http://127.0.0.1:9", "garde"), "http://x/cb", lambda _s: None)
    with pytest.raises(SsoError) as caught:
        login.login_url("/")
    assert caught.value.status == 503
    assert "cannot be reached" in str(caught.value)


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/dicom-web/studies", "/dicom-web/studies"),
        ("//evil.example/x", "/"),
        ("https://evil", "/"),
        ("", "/"),
    ],
)
def test_redirects_after_sign_in_stay_on_the_site(target: str, kept: str) -> None:
    assert _local_path(target) == kept


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert _s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
