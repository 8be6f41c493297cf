import json

import pytest

from myostride.errors import UserError
from myostride.muscles import MUSCLES
from myostride.study.summary import INTERPRETATION_PLACEHOLDER, SCHEMA, build_summary

import report_fixtures as rf

TOP_KEYS = {"schema", "generated", "patient", "date_of_service", "personnel", "clinical", "source", "data_source", "equipment",
            "activities", "muscles", "muscles_tested", "muscles_tested_list", "technical_findings",
            "interpretation", "coding", "payer_criteria", "documentation", "disclaimer"}
FRONT_END = {"detection_mode": "differential (bipolar)", "input_impedance": ">= 10 GOhm", "cmrr_db": 105,
             "gain": 6, "analog_filters": "anti-alias low-pass 500 Hz", "adc_bits": 24}


@pytest.fixture
def boards(tmp_path):
    (tmp_path / "myostride-s3.json").write_text(json.dumps({"name": "myostride-s3", "front_end": FRONT_END}))
    return tmp_path


def test_schema_and_json_roundtrip(boards):
    s = build_summary(rf.analysis(), rf.clinical(), rf.session_meta(), boards_dir=boards)
    assert s["schema"] == SCHEMA and set(s) == TOP_KEYS
    assert json.loads(json.dumps(s, allow_nan=False)) == s
    assert s["patient"] == {"id": "MS-DEMO-0001", "age_years": 9}
    assert s["personnel"]["performed_by"]["name"] == "A. Example"
    assert "decision support, not billing advice" in s["disclaimer"]
    assert s["coding"]["disclaimer"] == s["disclaimer"]
    eq = s["equipment"]
    assert eq["firmware_versions"] == ["0.1.0"] and eq["sampling_rate_hz"] == [2000.0]
    assert eq["front_end"]["cmrr_db"] == 105 and eq["electrodes"]["inter_electrode_distance_mm"] == 20
    assert eq["calibration"]["status"] == "passed"
    # Only the (pending) interpretation is missing: everything else is documented.
    assert s["documentation"] == {"complete": False, "missing": ["interpretation"]}
    assert s["interpretation"] == {"text": None, "by": None, "placeholder": INTERPRETATION_PLACEHOLDER}
    assert s["activities"]["strides_analysed"] == {"left": 8, "right": 8}


def test_muscles_tested_counts_only_usable(boards):
    s = build_summary(rf.analysis(unusable=(2, 5)), rf.clinical(), rf.session_meta(), boards_dir=boards)
    assert s["muscles_tested"] == 10 and len(s["muscles_tested_list"]) == 10
    assert "right soleus" not in s["muscles_tested_list"]
    assert any("Right Soleus: not usable" in f for f in s["technical_findings"])
    assert "Right Tibialis anterior: 1 of 8 strides excluded (gap: 1)" in s["technical_findings"]
    assert s["muscles"][0]["excluded_reasons"] == {"gap": 1}
    flagged = build_summary(rf.analysis(shift=(4,)), rf.clinical(), rf.session_meta(), boards_dir=boards)
    assert [m["abnormal"] for m in flagged["muscles"]].count(True) == 1


def test_facts_not_known_are_missing_never_invented():
    s = build_summary(rf.analysis(), rf.clinical(electrodes=None), None, boards_dir="/nonexistent")
    missing = s["documentation"]["missing"]
    for fact in ("equipment.node_hardware", "equipment.firmware_versions", "equipment.electrodes.type",
                 "equipment.electrodes.inter_electrode_distance_mm", "equipment.front_end.cmrr_db",
                 "equipment.calibration"):
        assert fact in missing
    assert s["equipment"]["front_end"]["cmrr_db"] is None
    assert s["equipment"]["sampling_rate_hz"] == [2000.0]  # from the analysis channels
    crit = {c["id"]: c for c in s["payer_criteria"]}
    assert crit["qualified_personnel_and_equipment"]["met"] is None
    assert crit["complete_documentation"]["met"] is False


def test_failed_self_test_is_reported(boards):
    s = build_summary(rf.analysis(), rf.clinical(), rf.session_meta(self_test=False), boards_dir=boards)
    assert s["equipment"]["calibration"]["status"] == "failed"
    crit = {c["id"]: c for c in s["payer_criteria"]}
    assert crit["qualified_personnel_and_equipment"]["met"] is False
    assert any("self-test failed" in f for f in s["technical_findings"])


def test_status_frame_selftest_bits():
    from myowire import codec
    from myostride.study.equipment import selftest_from_bits

    all_ok = codec.S_AFE | codec.S_IMU | codec.S_CLOCK | codec.S_STORAGE
    assert selftest_from_bits(all_ok)["passed"] is True
    bad = selftest_from_bits(all_ok & ~codec.S_AFE)
    assert bad["passed"] is False and bad["failed"] == ["afe"]
    assert selftest_from_bits(all_ok & ~codec.S_IMU, imu=False)["passed"] is True


def test_coding_failing_cases_in_the_summary(boards):
    layout = [(side, m) for side in ("right", "left") for m in MUSCLES][:13]
    s = build_summary(rf.analysis(layout=layout), rf.clinical(), rf.session_meta(13), boards_dir=boards)
    assert s["muscles_tested"] == 13
    assert any("13 muscles" in w["message"] for w in s["coding"]["warnings"])

    s = build_summary(rf.analysis(), rf.clinical(other_codes_same_day=["95870"], trial_status="discontinued",
                                                 trial_status_reason="patient fatigued after 2 trials"),
                      rf.session_meta(), boards_dir=boards)
    lines = {ln["code"]: ln for ln in s["coding"]["lines"]}
    assert lines["96002"]["modifiers"] == ["53"] and "96004" not in lines
    assert any("95870" in w["message"] for w in s["coding"]["warnings"] if w["code"] == "96002")

    s = build_summary(rf.analysis(), rf.clinical(interpretation="Premature calf activity.", purpose="research"),
                      rf.session_meta(), boards_dir=boards)
    assert "96004" in {ln["code"] for ln in s["coding"]["lines"]}
    assert s["interpretation"]["by"]["name"] == "Dr. I. Example" and s["interpretation"]["placeholder"] is None
    assert {c["id"]: c["met"] for c in s["payer_criteria"]}["covered_purpose"] is False
    assert s["documentation"]["complete"] is True


def test_no_usable_muscle():
    s = build_summary(rf.analysis(unusable=tuple(range(12))), rf.clinical(), rf.session_meta())
    assert s["muscles_tested"] == 0 and "96002" not in {ln["code"] for ln in s["coding"]["lines"]}
    assert "muscles with usable data" in s["documentation"]["missing"]


def test_rejects_what_is_not_an_analysis():
    with pytest.raises(UserError, match="not a myostride analysis"):
        build_summary({"schema": "other"}, rf.clinical())


def test_board_pin_map_gives_chip_and_gain_only(tmp_path):
    (tmp_path / "myostride-s3.json").write_text(json.dumps({"emg": {"chip": "ads1292r", "gain": 6}}))
    s = build_summary(rf.analysis(), rf.clinical(), rf.session_meta(), boards_dir=tmp_path)
    fe = s["equipment"]["front_end"]
    assert fe["chip"] == "ads1292r" and fe["gain"] == 6 and fe["cmrr_db"] is None
    assert "equipment.front_end.cmrr_db" in s["documentation"]["missing"]
    assert "equipment.front_end.gain" not in s["documentation"]["missing"]


def test_recording_date_differs_from_date_of_service():
    meta = dict(rf.session_meta(), created_utc="2025-03-15T09:00:00Z")
    s = build_summary(rf.analysis(), rf.clinical(), meta)
    assert any("recorded on 2025-03-15" in f and "2025-03-14" in f for f in s["technical_findings"])
    s = build_summary(rf.analysis(), rf.clinical(), dict(meta, created_utc="2025-03-14T09:00:00Z"))
    assert not any("recorded on" in f for f in s["technical_findings"])


def test_interpretation_without_a_named_clinician_is_not_96004():
    s = build_summary(rf.analysis(), rf.clinical(interpretation="Premature calf activity.", interpreted_by=None),
                      rf.session_meta())
    assert "96004" not in {ln["code"] for ln in s["coding"]["lines"]}
    assert s["interpretation"]["text"] == "Premature calf activity." and s["interpretation"]["by"] is None
    assert "interpreted_by.name" in s["documentation"]["missing"]


def test_simulated_session_is_marked_in_summary_and_report(tmp_path):
    from myostride.report.content import report_sections
    from myostride.study.summary import SIMULATED_NOTICE, build_summary, data_source

    assert data_source({"backend": "ble"}) == {"backend": "ble", "simulated": False, "notice": None}
    assert data_source(None)["simulated"] is False
    analysis = {"schema": "myostride.analysis/1", "channels": []}
    clinical = {"patient": {"id": "X1"}}
    s = build_summary(analysis, clinical, {"backend": "sim", "nodes": []})
    assert s["data_source"]["simulated"] is True and s["data_source"]["notice"] == SIMULATED_NOTICE
    study = report_sections(s, analysis)[0]
    assert study["blocks"][0] == ("note", SIMULATED_NOTICE)
    real = build_summary(analysis, clinical, {"backend": "ble", "nodes": []})
    assert all(SIMULATED_NOTICE not in str(b) for b in report_sections(real, analysis)[0]["blocks"])
