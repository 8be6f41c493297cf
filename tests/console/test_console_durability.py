"""Nothing is lost by the page: closing the tab, reopening it, even killing the server mid-recording."""

import json
import time

import pytest

from myostride.acquire.rawlog import is_being_written
from myostride.console.radio import SimPatient
from myostride.session import load_session

from consolekit import Server, chromium, wait_for


@pytest.mark.slow
def test_closing_the_page_and_killing_the_server_mid_recording_lose_no_sample(tmp_path):
    from selenium.webdriver.common.by import By

    # The simulated nodes belong to the test, not to the console: they outlive the server as real nodes would.
    sim = SimPatient(tmp_path / "sim", nodes=2, seconds=150, seed=3)
    world = sim.start()
    data = tmp_path / "data"
    server = second = None
    try:
        server = Server(data, "--backend", "sim", "--world", world)
        c = server.client()
        today = time.strftime("%Y-%m-%d", time.gmtime())
        sid = c.post("/api/studies", json={"clinical": {"patient": {"id": "P-DUR-1"}, "date_of_service": today}}).json()["id"]
        c.put("/api/studies/%s/mapping" % sid, json={"mapping": [
            {"node_id": 1, "side": "left", "muscle": "tibialis_anterior"},
            {"node_id": 7, "side": "right", "muscle": "tibialis_anterior"}]}).raise_for_status()
        r = c.post("/api/studies/%s/trials" % sid, json={"seconds": None, "notes": "durability"})
        assert r.status_code == 200, r.text
        trial_dir = data / "studies" / sid / "trials" / r.json()["id"]
        log = trial_dir / "raw.log"
        wait_for(lambda: log.exists() and log.stat().st_size > 100_000, 150, "recording under way")

        # A page watching the trial is closed (tab closed / browser gone): the recording goes on.
        driver = chromium(tmp_path)
        driver.get(server.url)
        wait_for(lambda: driver.execute_script("return window.myostridePerf.latency_ms.length") > 5, 30, "page drawing")
        driver.quit()
        size = log.stat().st_size
        wait_for(lambda: log.stat().st_size > size + 20_000, 30, "raw.log still growing after the page closed")

        # Reopening the page shows the running trial.
        driver = chromium(tmp_path)
        try:
            driver.get(server.url)
            wait_for(lambda: "recording trial-01" in driver.find_element(By.ID, "rec-status").text, 30, "reopened page shows the trial")
        finally:
            driver.quit()

        # The server dies (kill -9): the recorder child stops cleanly (STOP, fetch missing frames, session.json).
        elapsed_at_kill = time.monotonic()
        server.proc.kill()
        server.proc.wait(10)
        wait_for(lambda: not is_being_written(log), 90, "recorder child finished")
        assert time.monotonic() - elapsed_at_kill < 90
        session = load_session(trial_dir)
        man = session.meta
        assert man["status"] == "stopped", man.get("end_reason")
        assert man["duration_s"] >= 8
        for n in man["nodes"]:
            assert n["samples"]["missing"] == 0 and n["samples"]["received"] == n["samples"]["expected"] > 0, n
            assert not n["gaps"]

        # A new server on the same folder lists the trial as stopped; the page shows it.
        second = Server(data, "--backend", "sim", "--world", world)
        trials = second.client().get("/api/studies/%s/trials" % sid).json()["trials"]
        assert [(t["id"], t["status"]) for t in trials] == [("trial-01", "stopped")]
        assert trials[0]["notes"] == "durability"
    finally:
        for s in (server, second):
            if s is not None:
                s.stop()
        sim.stop()
    assert "P-DUR-1" not in server.output()
    assert json.loads((trial_dir / "session.json").read_text())["status"] == "stopped"
