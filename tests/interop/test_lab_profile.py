"""Lab profile: validated like the clinical file; fills an imported file's equipment facts, marked as such."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))

import report_fixtures as rf  # noqa: E402

from myostride.cli import main  # noqa: E402
from myostride.errors import UserError  # noqa: E402
from myostride.study.lab import load_lab, template, validate_lab  # noqa: E402
from myostride.study.summary import build_summary  # noqa: E402

LAB = {
    "schema": "myostride.lab/1",
    "lab": {"name": "Example Gait Lab", "department": None, "address": None},
    "system": {"manufacturer": "Delsys", "model": "Trigno Avanti", "software": "EMGworks 4.8", "serial_numbers": None},
    "front_end": {"chip": None, "detection_mode": "bipolar, parallel-bar silver contacts",
                  "input_impedance": ">10^15 ohm // 0.2 pF", "cmrr_db": 80, "gain": 909, "analog_filters":
                  "20-450 Hz band-pass", "adc_bits": 16},
    "electrodes": {"type": "Trigno parallel-bar sensor", "material": "silver", "size_mm": 5,
                   "inter_electrode_distance_mm": 10, "skin_preparation": None, "placement_guide": "SENIAM"},
    "calibration": {"date": "2026-01-15", "method": "vendor sensor check", "passed": True},
    "mains_hz": 60,
}


def c3d_analysis():
    a = rf.analysis()
    a["source"] = {"kind": "c3d", "path": "walk.c3d", "time_origin_s": 1.52, "meta": {}}
    return a


def write(tmp_path, data, name="lab.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def test_template_is_valid_and_provides_nothing():
    assert validate_lab(template()) == []
    clin = {k: v for k, v in rf.clinical().items() if k != "electrodes"}
    eq = build_summary(c3d_analysis(), clin, None, lab=template())["equipment"]
    assert eq["lab_profile"]["facts_used"] == []


def test_unknown_keys_and_impossible_values_are_each_named(tmp_path):
    bad = json.loads(json.dumps(LAB))
    bad["colour"] = "blue"
    bad["front_end"]["cmrr"] = 90
    bad["front_end"]["cmrr_db"] = 400
    bad["front_end"]["gain"] = -5
    bad["front_end"]["adc_bits"] = 12.5
    bad["electrodes"]["size_mm"] = 0
    bad["calibration"]["date"] = "2026-02-30"
    bad["calibration"]["passed"] = "yes"
    bad["mains_hz"] = 55
    problems = validate_lab(bad)
    for needle in ("colour: unknown key", "front_end.cmrr: unknown key", "front_end.cmrr_db: 400 dB is impossible",
                   "front_end.gain: -5 is impossible", "front_end.adc_bits: 12.5 is not a whole number",
                   "electrodes.size_mm: 0 mm is out of range", "calibration.date: 2026-02-30 is not a calendar date",
                   "calibration.passed: must be true or false", "mains_hz: 55 Hz is not a mains frequency"):
        assert sum(needle in p for p in problems) == 1, (needle, problems)
    assert len(problems) == 9
    with pytest.raises(UserError, match="has 9 problems") as err:
        load_lab(write(tmp_path, bad))
    assert "\n" not in str(err.value)


def test_profile_fills_an_imported_files_missing_facts_and_says_so(tmp_path):
    clin = rf.clinical()
    del clin["electrodes"]["material"]  # the clinical file (what was placed today) still wins where it speaks
    without = build_summary(c3d_analysis(), clin, None)
    missing_before = without["documentation"]["missing"]
    for fact in ("front_end.cmrr_db", "front_end.input_impedance", "front_end.gain", "front_end.detection_mode",
                 "node_hardware", "firmware_versions", "calibration"):
        assert "equipment." + fact in missing_before
    lab = load_lab(write(tmp_path, LAB))
    s = build_summary(c3d_analysis(), clin, None, lab=lab)
    eq = s["equipment"]
    assert not [m for m in s["documentation"]["missing"] if m.startswith("equipment.")]
    assert eq["front_end"]["cmrr_db"] == 80 and eq["node_hardware"] == ["Delsys Trigno Avanti"]
    src = eq["fact_sources"]
    assert src["front_end.cmrr_db"] == "lab profile" and src["calibration"] == "lab profile"
    assert src["electrodes.material"] == "lab profile"
    assert src["electrodes.type"].startswith("clinical file")  # not replaced by the profile
    assert eq["electrodes"]["type"] == clin["electrodes"]["type"]
    assert src["sampling_rate_hz"].startswith("analysis") and src["filters.analysis"] == "analysis settings"
    assert eq["calibration"]["status"] == "passed" and eq["calibration"]["lab_record"]["date"] == "2026-01-15"
    # The payer checklist counts the documented equipment.
    crit = {c["id"]: c for c in s["payer_criteria"]}
    before = {c["id"]: c for c in without["payer_criteria"]}
    assert before["qualified_personnel_and_equipment"]["met"] is None  # calibration not recorded
    assert crit["qualified_personnel_and_equipment"]["met"] is True
    assert "equipment.front_end.cmrr_db" in before["complete_documentation"]["detail"]
    assert "equipment" not in crit["complete_documentation"]["detail"]


def test_a_session_keeps_its_own_hardware_records(tmp_path):
    lab = load_lab(write(tmp_path, LAB))
    s = build_summary(rf.analysis(), rf.clinical(), rf.session_meta(), lab=lab)
    eq = s["equipment"]
    assert eq["lab_profile"]["facts_used"] == [] and "records its own hardware" in eq["lab_profile"]["not_used"]
    assert eq["node_hardware"] == ["myostride-s3"] and eq["fact_sources"]["node_hardware"] == "session manifest"


def test_cli_lab_init_check_and_report_with_and_without_a_profile(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert main(["lab", "init"]) == 0
    default = tmp_path / "xdg" / "myostride" / "lab.json"
    assert json.loads(default.read_text()) == template()
    assert main(["lab", "init"]) == 2 and "exists" in capsys.readouterr().err
    default.write_text(json.dumps(LAB))
    assert main(["lab", "check"]) == 0
    assert "front_end.cmrr_db" in capsys.readouterr().out
    an = tmp_path / "analysis.json"
    an.write_text(json.dumps(c3d_analysis()))
    clin = write(tmp_path, rf.clinical(), "clinical.json")
    assert main(["report", str(an), "--clinical", str(clin), "--out", str(tmp_path / "r1")]) == 0
    out = capsys.readouterr().out
    assert "lab profile %s" % default in out and "front_end.cmrr_db" in out
    html = (tmp_path / "r1" / "report.html").read_text()
    assert "From the lab profile of Example Gait Lab" in html and "CMRR" in html
    assert main(["report", str(an), "--clinical", str(clin), "--out", str(tmp_path / "r2"), "--no-lab"]) == 0
    summary = json.loads((tmp_path / "r2" / "summary.json").read_text())
    assert "equipment.front_end.cmrr_db" in summary["documentation"]["missing"]
    bad = write(tmp_path, dict(LAB, mains_hz=55), "bad.json")
    capsys.readouterr()
    assert main(["report", str(an), "--clinical", str(clin), "--out", str(tmp_path / "r3"), "--lab", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mains_hz: 55 Hz" in err
    assert not (tmp_path / "r3").exists()
