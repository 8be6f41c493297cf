"""The whole therapist flow in a real headless Chromium against simulated nodes.

Study -> 4 sensors (list and body diagram, identify) -> check -> record 20 s -> review ->
interpretation -> report; the report must match what `myostride report` writes for the
same session and clinical file. Screenshots of each step are kept as test artefacts.
"""

import json
import subprocess
import sys
import time

import pytest

from consolekit import Server, artefact_dir, chromium, page_errors, wait_for

PATIENT_ID = "PT-E2E-7731"
EXAMPLE = __import__("pathlib").Path(__file__).resolve().parents[2] / "host/myostride/data/example_clinical.json"


def _normalised(summary, *roots):
    """A summary without what legitimately differs between two runs: when and where."""
    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items() if k not in ("at_utc", "path")}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str):
            for r in roots:
                v = v.replace(str(r), "<ROOT>")
        return v

    return walk(summary)


@pytest.mark.slow
def test_whole_flow_in_chromium_matches_the_cli(tmp_path):
    from pathlib import Path

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    shots = artefact_dir(tmp_path)
    data = tmp_path / "console-data"
    server = Server(data, "--backend", "sim", "--sim-nodes", "4", "--sim-seconds", "180")
    driver = None
    try:
        driver = chromium(tmp_path)
        d = driver
        q = lambda css: d.find_element(By.CSS_SELECTOR, css)  # noqa: E731
        text_of = lambda css: q(css).text  # noqa: E731

        def shot(name):
            d.save_screenshot(str(shots / name))

        d.get(server.url)
        wait_for(lambda: d.execute_script("return document.body.dataset.ready") == "1", 30, "page ready")
        assert "token" not in d.current_url  # the token was traded for a cookie

        # 1 Study: typed fields are validated as typed, with the CLI validator's words.
        clinical = json.loads(Path(EXAMPLE).read_text())
        clinical.pop("interpretation", None)
        clinical.pop("interpreted_by", None)
        clinical["date_of_service"] = time.strftime("%Y-%m-%d", time.gmtime())
        d.execute_script("""
            const c = arguments[0];
            const get = (k) => k.split('.').reduce((o, p) => (o && typeof o === 'object' ? o[p] : undefined), c);
            document.querySelectorAll('#clinical-form [data-key]').forEach((i) => {
                const v = get(i.dataset.key);
                if (v === undefined || i.dataset.key === 'patient.id' || i.dataset.key === 'patient.age_years') return;
                i.value = Array.isArray(v) ? v.join(', ') : String(v);
            });""", clinical)
        q("#f-patient\\.id").send_keys(PATIENT_ID)
        age = q("#f-patient\\.age_years")
        age.send_keys("nine")
        wait_for(lambda: "must be a number of years" in text_of("#e-patient\\.age_years"), 10, "inline age message")
        assert age.get_attribute("aria-invalid") == "true"
        shot("1-study-validation.png")
        age.clear()
        age.send_keys("9")
        wait_for(lambda: text_of("#e-patient\\.age_years") == "", 10, "age message cleared")
        q("#study-save").click()
        wait_for(lambda: Select(q("#study-select")).first_selected_option.get_attribute("value"), 20, "study created")
        study_id = Select(q("#study-select")).first_selected_option.get_attribute("value")
        shot("1-study.png")

        # 2 Sensors: simulated patient, scan, assign by list and by the body diagram, identify.
        q('#steps button[data-step="sensors"]').click()
        q("#sim-start").click()
        wait_for(lambda: "running" in text_of("#sim-status"), 90, "simulated patient")
        q("#scan").click()
        wait_for(lambda: "4 node(s) found" in text_of("#scan-status"), 30, "scan")
        for nid, side, muscle in ((1, "left", "tibialis_anterior"), (7, "right", "tibialis_anterior"),
                                  (8, "right", "gastrocnemius_medialis")):
            Select(q("#side-%d" % nid)).select_by_value(side)
            Select(q("#muscle-%d" % nid)).select_by_value(muscle)
        wait_for(lambda: "Placement" in text_of("#placement"), 5, "placement hint")
        q("#node-row-2 button[aria-pressed]").click()
        region = q('.region[data-side="left"][data-muscle="gastrocnemius_medialis"]')
        region.click()
        assert Select(q("#muscle-2")).first_selected_option.get_attribute("value") == "gastrocnemius_medialis"
        assert "node 2" in region.get_attribute("aria-label")
        q("#node-row-1 td:last-child button").click()
        wait_for(lambda: "blinking its LED" in text_of("#message"), 30, "identify")
        q("#mapping-save").click()
        wait_for(lambda: "saved: 4 node(s)" in text_of("#mapping-status"), 10, "mapping saved")
        shot("2-sensors.png")

        # 3 Check.
        q('#steps button[data-step="check"]').click()
        q("#check-run").click()
        wait_for(lambda: "PASS" in text_of("#check-status") or "fix" in text_of("#check-status")
                 or "failed" in text_of("#check-status"), 320, "check result", every_s=1)
        assert "ALL PASS" in text_of("#check-status"), text_of("#check-status") + text_of("#check-table")
        assert len(d.find_elements(By.CSS_SELECTOR, "#check-table tbody tr")) == 4
        shot("3-check.png")

        # 4 Record 20 s with notes; traces and badges draw while it runs.
        q('#steps button[data-step="record"]').click()
        secs = q("#rec-seconds")
        secs.clear()
        secs.send_keys("20")
        q("#rec-notes").send_keys("barefoot, self-selected speed")
        q("#rec-start").click()
        wait_for(lambda: "recording trial-01" in text_of("#rec-status"), 120, "recording started")
        wait_for(lambda: d.execute_script("return window.myostridePerf.latency_ms.length") > 20, 150, "live traces drawn")
        wait_for(lambda: "link up" in text_of("#badges-1") and "battery" in text_of("#badges-1"), 10, "badges")
        time.sleep(3)
        shot("4-record-live.png")
        wait_for(lambda: "trial-01 complete" in text_of("#rec-status"), 200, "recording finished", every_s=1)
        wait_for(lambda: "barefoot" in text_of("#trial-table"), 10, "trial notes listed")
        shot("4-record-done.png")

        # 5 Review.
        q('#steps button[data-step="review"]').click()
        wait_for(lambda: Select(q("#review-trial")).options, 10, "trial to review")
        q("#review-run").click()
        wait_for(lambda: "analysed" in text_of("#review-status"), 120, "analysis", every_s=1)
        cards = d.find_elements(By.CSS_SELECTOR, ".muscle-card img")
        assert len(cards) == 4 and all(c.get_attribute("naturalWidth") not in ("0", None) for c in cards)
        # Left beside right: two columns, two muscles each.
        assert [len(col.find_elements(By.CSS_SELECTOR, ".muscle-card")) for col in
                d.find_elements(By.CSS_SELECTOR, ".review-grid > div")] == [2, 2]
        assert q("#technical-findings") and q("#clinical-findings")
        shot("5-review.png")

        # 6 Interpretation: stored in the study's clinical file.
        q('#steps button[data-step="interpretation"]').click()
        q("#int-name").send_keys("Dr. A. Example")
        q("#int-cred").send_keys("MD")
        q("#int-spec").send_keys("Physical Medicine and Rehabilitation")
        q("#int-text").send_keys("Activation timing of tibialis anterior and gastrocnemius lies within normal windows on both sides.")
        q("#int-save").click()
        wait_for(lambda: "saved" in text_of("#int-status"), 10, "interpretation saved")
        study_dir = data / "studies" / study_id
        stored = json.loads((study_dir / "clinical.json").read_text())
        assert stored["interpretation"].startswith("Activation timing of tibialis anterior")
        shot("6-interpretation.png")

        # 7 Report.
        q('#steps button[data-step="report"]').click()
        wait_for(lambda: Select(q("#report-trial")).options, 10, "trial to report")
        q("#report-run").click()
        wait_for(lambda: "report ready" in text_of("#report-status"), 180, "report", every_s=1)
        assert "96002" in text_of("#coding-table")
        assert q("#payer-table").text
        shot("7-report.png")
        pdf = server.client(csrf=False).get(q("#download-pdf").get_attribute("href"))
        assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
        assert "attachment" in pdf.headers.get("content-disposition", "")
        assert page_errors(d) == []
    finally:
        if driver is not None:
            driver.quit()
        server.stop()

    # The report is the CLI's report for the same session and clinical file.
    trial = study_dir / "trials" / "trial-01"
    cli_out = tmp_path / "cli-report"
    proc = subprocess.run([sys.executable, "-m", "myostride", "report", str(trial), "--clinical",
                           str(study_dir / "clinical.json"), "--out", str(cli_out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    ours = json.loads((study_dir / "reports" / "trial-01" / "summary.json").read_text())
    theirs = json.loads((cli_out / "summary.json").read_text())
    assert _normalised(ours, study_dir, cli_out) == _normalised(theirs, study_dir, cli_out)
    assert ours["interpretation"]["text"].startswith("Activation timing")
    man = json.loads((trial / "session.json").read_text())
    assert man["status"] == "complete" and 19 <= man["duration_s"] <= 25
    assert (trial / "check.json").exists()  # the pre-trial check travels with the session
    for n in man["nodes"]:
        assert n["samples"]["missing"] == 0 and n["samples"]["received"] == n["samples"]["expected"]
    # No patient data in what the server printed.
    assert PATIENT_ID not in server.output()
    for name in ("1-study.png", "2-sensors.png", "3-check.png", "4-record-live.png", "5-review.png",
                 "6-interpretation.png", "7-report.png"):
        assert (shots / name).stat().st_size > 5000, name
