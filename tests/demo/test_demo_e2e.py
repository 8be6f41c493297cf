"""`myostride demo`: the front door runs the whole chain and leaves every output."""

import json
import subprocess
import sys

import pypdfium2
import pytest

from myostride.cli import main


@pytest.mark.slow
def test_demo_runs_end_to_end_and_leaves_every_output(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "myostride", "demo", "--out", str(out), "--nodes", "3", "--seconds", "10",
         "--no-live", "--seed", "4"],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("summary.json", "report.html", "report.pdf", "analysis.json", "session/session.json",
                 "session/raw.log", "sim/truth.json"):
        assert (out / name).exists(), name
    assert "Open the report: %s" % (out / "report.html") in proc.stdout.replace("\n", "")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data_source"]["simulated"] is True
    assert summary["muscles_tested"] == 3
    assert [ln["code"] for ln in summary["coding"]["lines"]] == ["96002"]
    manifest = json.loads((out / "session" / "session.json").read_text())
    for node in manifest["nodes"]:
        # Nothing lost, nothing invented: every expected sample arrived (resends fill the losses).
        assert node["samples"]["missing"] == 0 and node["samples"]["received"] == node["samples"]["expected"]
    pdf = pypdfium2.PdfDocument(str(out / "report.pdf"))
    assert len(pdf) >= 3
    assert "SIMULATED DATA" in (out / "report.html").read_text()


def test_demo_refuses_bad_options_with_one_line(capsys, tmp_path):
    assert main(["demo", "--nodes", "13", "--out", str(tmp_path / "x")]) == 2
    assert "--nodes must be 1-12" in capsys.readouterr().err
    assert main(["demo", "--condition", "moonwalk", "--out", str(tmp_path / "x")]) == 2
    assert "unknown --condition 'moonwalk'" in capsys.readouterr().err
    assert main(["demo", "--seconds", "-3", "--out", str(tmp_path / "x")]) == 2
    assert "--seconds must be 5-600" in capsys.readouterr().err


def test_demo_does_not_overwrite_an_earlier_demo_without_force(capsys, tmp_path):
    (tmp_path / "summary.json").write_text("{}")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "already holds a demo" in capsys.readouterr().err
    assert (tmp_path / "summary.json").read_text() == "{}"
