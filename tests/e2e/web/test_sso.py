"""Single sign-on for the web face (issue 18, item 2): a real OpenID Connect provider
(panva's oidc-provider, the certified npm package, in `oidc_provider/`), `garde serve`
with `[web.oidc]`, and headless chromium signing in through the authorization code flow
with PKCE: the provider's login form (the account id) and its consent page.

The reader's RPPS claim maps to r01 (credentialed for h01): after signing in, the
browser reads r01's study over DICOMweb, is refused the other hospital's, signs out and
is refused again. A forged or expired ID token is refused with 401; a provider that is
down is said so, and personal tokens keep working.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from pydicom.uid import generate_uid

from tests.browser import Browser
from tests.e2e.runtime.serving import garde, serve, wait_for_port
from tests.e2e.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, require_provider
from tests.helpers import free_port, require_executable, write_on_call_roster, write_series

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.chromium

RPPS = "10999000002"
ACCOUNT = "psc-7f3a"  # the reader's account at the provider; its rpps claim maps to r01
CONFIG = """
environment = "production"
data_dir = "{data}"
roster_file = "{roster}"

[gateway]
port = {port}
workers = 1
stable_age_s = 1

[web]
enabled = true
port = {web_port}

[web.oidc]
issuer = "{issuer}"
client_id = "{client_id}"
client_secret = "{client_secret}"
subject_claim = "rpps"

[scheduler]
stability_sweep_s = 0.3

[region]
medical_director = "director@example.org"

[[sites]]
id = "h01"
name = "CH Test One"
ae_titles = ["TEST_CT1"]

[[sites]]
id = "h02"
name = "CH Test Two"
ae_titles = ["TEST_CT2"]

[[radiologists]]
id = "r01"
rpps = "{rpps}"
name = "Dr One"
skills = ["neuro", "body"]
sites = ["h01"]

[[radiologists]]
id = "r02"
name = "Dr Two"
skills = ["neuro", "body"]
sites = ["h02"]
"""


@dataclass
class Signed:
    web: str
    provider: Provider
    data: Path
    ours: str  # a study of h01, assigned to r01
    theirs: str  # a study of h02
    token: str  # r01's personal token
    chromium: str


def _push(scu: str, port: int, aet: str, folder: Path) -> str:
    uid = generate_uid()
    files = write_series(folder, 2, study_uid=uid, rows=16, columns=16)
    run = subprocess.run(
        [scu, "-aet", aet, "-aec", "GARDE", "127.0.0.1", str(port), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return uid


def _token(config: Path, *args: str, by: str | None = None) -> str:
    env = {**os.environ, "GARDE_TOKEN": by} if by else dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(config), "user", "token", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return next(w for w in out.split() if w.startswith("garde_"))


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    chromium = require_executable(
        "chromium", required=os.environ.get("GARDE_TEST_REQUIRE_CHROMIUM") == "1"
    )
    scu = require_executable("storescu")
    node = require_provider()
    tmp = tmp_path_factory.mktemp("sso")
    port, web_port = free_port(), free_port()
    web = f"http://127.0.0.1:{web_port}"
    provider = Provider(node, free_port(), web + "/sso/callback", {ACCOUNT: {"rpps": RPPS}})
    provider.start()
    data = tmp / "data"
    config = tmp / "garde.toml"
    config.write_text(
        CONFIG.format(
            data=data,
            roster=write_on_call_roster(tmp / "roster.csv", "r01", "r02"),
            port=port,
            web_port=web_port,
            issuer=provider.issuer,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            rpps=RPPS,
        ),
        encoding="utf-8",
    )
    garde(config, "db", "upgrade")
    operator = _token(config, "--operator", "ops")
    log = tmp / "serve.log"
    server = serve(config, log)
    try:
        wait_for_port(port, server, log)
        wait_for_port(web_port, server, log)
        token = _token(config, "r01", by=operator)
        ours = _push(scu, port, "TEST_CT1", tmp / "ours")
        theirs = _push(scu, port, "TEST_CT2", tmp / "theirs")
        deadline = time.monotonic() + 20
        while _assignee(data, ours) != "r01":
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield Signed(web, provider, data, ours, theirs, token, chromium)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
        provider.stop()


def _assignee(data: Path, uid: str) -> str | None:
    with contextlib.closing(sqlite3.connect(data / "garde.sqlite")) as db:
        row = db.execute("SELECT assignee FROM studies WHERE study_uid = ?", (uid,)).fetchone()
    return None if row is None else row[0]


def _audit(data: Path, action: str) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(data / "garde.sqlite")) as db:
        rows = db.execute(
            "SELECT actor, detail FROM audit_events WHERE action = ? ORDER BY id", (action,)
        ).fetchall()
    return [(actor, detail) for actor, detail in rows]


def test_chromium_signs_in_reads_its_study_is_refused_the_other_and_signs_out(
    signed: Signed, tmp_path: Path
) -> None:
    metadata = f"/dicom-web/studies/{signed.ours}/metadata"
    with Browser(signed.chromium, tmp_path / "profile") as browser:
        page = _sign_in(browser, f"{signed.web}/sso/login?next={urllib.parse.quote(metadata)}")
        assert browser.url() == signed.web + metadata  # through the provider and back
        assert signed.ours in page  # the study's DICOM JSON
        refused = browser.open(f"{signed.web}/dicom-web/studies/{signed.theirs}/metadata")
        assert "r01 may not read study" in refused
        assert "sign-out" in browser.open(f"{signed.web}/sso/logout")  # the provider asks
        assert "Signed out" in browser.submit(
            "document.querySelector('button[name=logout]').click()"
        )
        assert browser.url() == signed.web + "/sso/signed-out"
        assert "bearer token is required" in browser.open(signed.web + metadata)
    assert [actor for actor, _ in _audit(signed.data, "sso_login")] == ["r01"]
    assert [actor for actor, _ in _audit(signed.data, "sso_logout")] == ["r01"]


def _sign_in(browser: Browser, url: str) -> str:
    """Through the provider's login form (the account id) and consent page; the page after."""
    login = browser.open(url)
    assert "Sign-in" in login, login
    browser.submit(
        f"document.querySelector('input[name=login]').value = {ACCOUNT!r};"
        "document.querySelector('input[name=password]').value = 'any';"
        "document.querySelector('form').submit()"
    )
    assert "Authorize" in browser.text(), browser.text()
    return browser.submit("document.querySelector('form').submit()")


@pytest.mark.parametrize("flaw", ["forge", "expired"])
def test_a_forged_or_expired_id_token_is_refused(signed: Signed, flaw: str, tmp_path: Path) -> None:
    with Browser(signed.chromium, tmp_path / "profile") as browser:
        signed.provider.mode(flaw)
        try:
            text = _sign_in(browser, f"{signed.web}/sso/login")
        finally:
            signed.provider.mode("none")
        assert browser.status() == 401
        assert "the ID token is not valid" in text
        metadata = f"/dicom-web/studies/{signed.ours}/metadata"
        # and a good one passes (signed in at the provider, consent given: no form again)
        page = browser.open(f"{signed.web}/sso/login?next={urllib.parse.quote(metadata)}")
        assert browser.status() == 200
        assert signed.ours in page


def test_a_forged_session_cookie_is_401(signed: Signed) -> None:
    url = f"{signed.web}/dicom-web/studies/{signed.ours}/metadata"
    answer = httpx.get(url, cookies={"garde_session": "forged-session-id"}, timeout=10)
    assert answer.status_code == 401


def test_a_provider_down_is_said_and_tokens_keep_working(signed: Signed, tmp_path: Path) -> None:
    signed.provider.stop()
    with Browser(signed.chromium, tmp_path / "profile") as browser:
        page = browser.open(f"{signed.web}/sso/login")
    assert "cannot be reached" in page
    assert "personal tokens (garde user token) still work" in page
    answer = httpx.get(
        f"{signed.web}/dicom-web/studies/{signed.ours}/metadata",
        headers={"authorization": f"Bearer {signed.token}"},
        timeout=10,
    )
    assert answer.status_code == 200
