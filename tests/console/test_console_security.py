"""Security rules of the console: token always, local Host only, no cross-site state change."""

import json

import pytest
from starlette.testclient import TestClient

from myostride.acquire.backends import resolve_backend
from myostride.cli import main
from myostride.console.app import Console, build_app
from myostride.console.radio import ConsoleBackend
from myostride.console.security import COOKIE, Guard

from consolekit import Server

PORT = 8714
HOST = "127.0.0.1:%d" % PORT


@pytest.fixture
def app_and_guard(tmp_path):
    guard = Guard("127.0.0.1", PORT)
    console = Console(tmp_path / "data", ConsoleBackend(resolve_backend("sim", world=tmp_path / "no-world.json")), guard)
    app = build_app(console)
    with TestClient(app, base_url="http://" + HOST) as client:
        yield client, guard


def _authed(client, guard):
    client.headers["Authorization"] = "Bearer " + guard.token
    return client


def test_every_request_needs_the_token(app_and_guard):
    client, guard = app_and_guard
    r = client.get("/api/state")
    assert r.status_code == 401 and "access token" in r.text
    assert client.get("/static/app.js").status_code == 401
    assert _authed(client, guard).get("/api/state").status_code == 200


def test_first_visit_trades_the_token_for_a_strict_httponly_cookie(app_and_guard):
    client, guard = app_and_guard
    r = client.get("/?token=" + guard.token, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/?token=wrong", follow_redirects=False).status_code == 401
    client.cookies.clear()
    assert client.get("/?token=wrong", follow_redirects=False).status_code == 401
    client.cookies.set(COOKIE, guard.token)
    page = client.get("/")
    assert page.status_code == 200 and guard.csrf in page.text and guard.token not in page.text


def test_cross_origin_state_change_is_refused(app_and_guard):
    client, guard = app_and_guard
    _authed(client, guard)
    body = {"clinical": {"patient": {"id": "P1"}, "date_of_service": "2024-01-02"}}
    # A form or fetch from another site: no CSRF header (it cannot read our page) -> refused.
    r = client.post("/api/studies", json=body)
    assert r.status_code == 403 and "CSRF" in r.text
    # Even with the header, a foreign Origin is refused.
    r = client.post("/api/studies", json=body, headers={"X-Myostride-CSRF": guard.csrf, "Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.text
    assert not (client.app.state.console.store.root.exists() and any(client.app.state.console.store.root.iterdir()))
    # Our own page: same origin + CSRF header -> accepted.
    r = client.post("/api/studies", json=body, headers={"X-Myostride-CSRF": guard.csrf, "Origin": "http://" + HOST})
    assert r.status_code == 200, r.text


def test_dns_rebinding_host_is_refused(app_and_guard):
    client, guard = app_and_guard
    r = _authed(client, guard).get("/api/state", headers={"Host": "attacker.example:%d" % PORT})
    assert r.status_code == 403 and "Host" in r.text


def test_live_socket_refuses_foreign_origin_and_missing_token(app_and_guard):
    from starlette.websockets import WebSocketDisconnect

    client, guard = app_and_guard
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws/live?study=x&trial=y", headers={"Origin": "http://" + HOST, "Host": HOST}) as ws:
            ws.receive_text()
    client.cookies.set(COOKIE, guard.token)
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws/live?study=x&trial=y", headers={"Origin": "http://evil.example", "Host": HOST}) as ws:
            ws.receive_text()
    with client.websocket_connect("/ws/live?study=x&trial=y", headers={"Origin": "http://" + HOST, "Host": HOST}) as ws:
        assert json.loads(ws.receive_text())["type"] == "none"


def test_clinical_validation_uses_the_cli_messages(app_and_guard):
    from myostride.study.clinical import validate_clinical

    client, guard = app_and_guard
    _authed(client, guard).headers["X-Myostride-CSRF"] = guard.csrf
    bad = {"patient": {"id": "P1", "age_years": "ten"}, "date_of_service": "2024-13-40", "icd10": ["g80"]}
    r = client.post("/api/clinical/validate", json={"clinical": bad})
    assert r.json()["problems"] == validate_clinical(bad) and len(r.json()["problems"]) == 3
    r = client.post("/api/studies", json={"clinical": bad})
    assert r.status_code == 422 and r.json()["problems"] == validate_clinical(bad)


def test_non_local_bind_serves_nothing_without_the_token(tmp_path):
    server = Server(tmp_path / "data", "--listen", "0.0.0.0", "--backend", "sim")
    try:
        assert "reachable from the network" in server.output()
        port = server.base.rsplit(":", 1)[1]
        import httpx

        anon = httpx.get("http://127.0.0.1:%s/api/state" % port, timeout=10)
        assert anon.status_code == 401
        assert httpx.get("http://127.0.0.1:%s/" % port, timeout=10).status_code == 401
        ok = httpx.get("http://127.0.0.1:%s/api/state" % port, headers={"Authorization": "Bearer " + server.token}, timeout=10)
        assert ok.status_code == 200
    finally:
        server.stop()


def test_bad_console_options_give_one_line(capsys, tmp_path):
    assert main(["console", "--listen", "no-such-host.invalid", "--no-browser", "--data", str(tmp_path)]) == 2
    assert "--listen no-such-host.invalid is not an address" in capsys.readouterr().err
    assert main(["console", "--sim-nodes", "13", "--no-browser", "--data", str(tmp_path)]) == 2
    assert "--sim-nodes must be 1-12" in capsys.readouterr().err
    assert main(["console", "--backend", "ble", "--world", "w.json", "--no-browser", "--data", str(tmp_path)]) == 2
    assert "--world only applies to --backend sim" in capsys.readouterr().err
