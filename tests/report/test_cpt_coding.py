import pytest

from myostride.study.coding import DISCLAIMER, suggest_codes


def codes(result):
    return {line["code"]: line for line in result["lines"]}


def warned(result, code):
    return [w["message"] for w in result["warnings"] if w["code"] == code]


def test_96002_once_per_study_for_1_to_12_muscles():
    for n in (1, 6, 12):
        r = suggest_codes(n, interpretation_by="Dr I")
        assert codes(r)["96002"] == {"code": "96002", "units": 1, "modifiers": []}
        assert not warned(r, "96002")


def test_13_muscles_warns_and_still_one_unit():
    r = suggest_codes(13, interpretation_by="Dr I")
    assert codes(r)["96002"]["units"] == 1
    assert any("13 muscles" in m and "1-12" in m for m in warned(r, "96002"))


def test_no_usable_muscle_no_96002():
    r = suggest_codes(0, interpretation_by="Dr I")
    assert "96002" not in codes(r)
    assert any("no muscle with usable" in m for m in warned(r, "96002"))


def test_96003_per_fine_wire_muscle():
    r = suggest_codes(4, fine_wire_muscles=3, interpretation_by="Dr I")
    assert codes(r)["96003"]["units"] == 3
    assert "96003" not in codes(suggest_codes(4, interpretation_by="Dr I"))


def test_96004_only_with_named_interpretation():
    assert "96004" in codes(suggest_codes(8, interpretation_by="Dr I. Example"))
    r = suggest_codes(8, interpretation_by=None)
    assert "96004" not in codes(r)
    assert any("named clinician" in m for m in warned(r, "96004"))


@pytest.mark.parametrize("needle", ["95860", "95866", "95869", "95870", "95872", "95885", "95887"])
def test_needle_emg_same_day_conflicts_with_96002_and_96003(needle):
    r = suggest_codes(8, fine_wire_muscles=1, interpretation_by="Dr I", other_codes=[needle])
    for code in ("96002", "96003"):
        msgs = warned(r, code)
        assert msgs and needle in msgs[0], (code, r["warnings"])
    # 96004 conflicts only with 95860-95875 (not with 95885-95887).
    assert bool(warned(r, "96004")) == (int(needle) <= 95875)
    assert "95860-95866, 95869-95872, 95885-95887" in warned(r, "96002")[0]


@pytest.mark.parametrize("code", ["95867", "95868", "95873", "95875"])
def test_95860_95875_conflicts_with_96000_96004_only(code):
    r = suggest_codes(8, interpretation_by="Dr I", other_codes=[code])
    msg = warned(r, "96002")
    assert msg and code in msg[0] and "95860-95875" in msg[0] and "95885" not in msg[0]
    assert warned(r, "96004")


def test_no_conflict_with_unrelated_or_out_of_range_codes():
    r = suggest_codes(8, interpretation_by="Dr I", other_codes=["95876", "95859", "97116", "96000"])
    assert r["warnings"] == []


def test_96000_and_96001_together_warns_naming_both():
    r = suggest_codes(8, interpretation_by="Dr I", other_codes=["96000", "96001"])
    assert any("96000 and 96001" in m for m in warned(r, "96000"))
    assert not any("96000 and 96001" in w["message"] for w in suggest_codes(8, other_codes=["96001"])["warnings"])


def test_reduced_and_discontinued_modifiers():
    reduced = suggest_codes(8, fine_wire_muscles=1, interpretation_by="Dr I", trial_status="reduced")
    assert codes(reduced)["96002"]["modifiers"] == ["52"] and codes(reduced)["96003"]["modifiers"] == ["52"]
    disc = suggest_codes(3, interpretation_by="Dr I", trial_status="discontinued")
    assert codes(disc)["96002"]["modifiers"] == ["53"]
    assert codes(disc)["96004"]["modifiers"] == []
    assert codes(suggest_codes(3, trial_status="complete"))["96002"]["modifiers"] == []
    assert warned(suggest_codes(3, trial_status=None), "96002")


def test_duplicate_96002_and_same_day_repeat():
    r = suggest_codes(8, interpretation_by="Dr I", other_codes=["96002"], repeat_same_day=True)
    assert any("once per study" in m for m in warned(r, "96002"))
    assert any("modifier 76" in m for m in warned(r, "76"))


def test_disclaimer_says_decision_support():
    assert "decision support, not billing advice" in DISCLAIMER
