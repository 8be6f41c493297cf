import datetime
import json

import pytest

from myostride.study.clinical import load_clinical, missing_documentation, validate_clinical
from myostride.errors import UserError

import report_fixtures as rf

TODAY = datetime.date(2026, 1, 10)


def problems(**changes):
    return validate_clinical(rf.clinical(**changes), today=TODAY)


def test_example_file_is_valid_and_only_lacks_the_interpretation():
    data = load_clinical(rf.EXAMPLE_CLINICAL, today=TODAY)
    assert validate_clinical(data, today=TODAY) == []
    assert missing_documentation(data) == ["interpretation"]


@pytest.mark.parametrize("code", ["G80.1", "R26.89", "M21.6X1", "Q66.5", "Z96.6", "S82.101A", "M1A.0", "G80"])
def test_real_icd10_codes_pass(code):
    assert problems(icd10=[code]) == []


@pytest.mark.parametrize("code", ["g80.1", "G8.1", "80.1", "G80.", "G80.12345", "G801 ", "G80-1", 801, "GG0.1", "G8O.1"])
def test_malformed_icd10_codes_are_named(code):
    found = problems(icd10=["R26.89", code])
    assert len(found) == 1
    assert found[0].startswith("icd10[1]:") and "ICD-10" in found[0] and "G80.1" in found[0]


def test_unknown_keys_are_reported_with_the_allowed_keys():
    found = problems(patient={"id": "X1", "age_years": 7, "name": "Jane Doe"}, diagnosis="CP")
    assert any(p.startswith("patient.name: unknown key") and "age_years" in p for p in found)
    assert any(p.startswith("diagnosis: unknown key") and "indication" in p for p in found)


def test_wrong_types_name_the_field_and_the_type():
    found = problems(icd10="G80.1", purpose=3, performed_by="A. Example", other_codes_same_day=[95870])
    text = " | ".join(found)
    assert "icd10: must be a list" in text
    assert "purpose: 3 is not allowed; use one of clinical, research, screening, cosmetic" in text
    assert "performed_by: must be an object" in text
    assert "other_codes_same_day[0]: 95870 is not a valid CPT code" in text


@pytest.mark.parametrize("age", [-1, 121, "9", True])
def test_bad_age(age):
    found = problems(patient={"id": "X1", "age_years": age})
    assert len(found) == 1 and found[0].startswith("patient.age_years:")


def test_impossible_dates():
    assert problems(date_of_service="2025-02-30")[0].startswith("date_of_service: 2025-02-30 is not a calendar date")
    assert problems(date_of_service="14/03/2025")[0].startswith('date_of_service: "14/03/2025" is not a date')
    assert "in the future" in problems(date_of_service="2026-01-11")[0]
    found = problems(prior_study={"date": "2025-04-01", "new_indication": "post-op"})
    assert found == ["prior_study.date: 2025-04-01 is after date_of_service 2025-03-14; a prior study must come first"]
    assert problems(prior_study={"date": "2024-04-01", "new_indication": "post-op"}) == []


def test_enums_and_required_keys():
    assert problems(trial_status="aborted")[0].startswith('trial_status: "aborted" is not allowed')
    found = validate_clinical({"purpose": "clinical"}, today=TODAY)
    assert "patient.id: required; add it" in found and "date_of_service: required; add it" in found
    found = validate_clinical({"patient": {"age_years": 200}, "date_of_service": "2025-01-01"}, today=TODAY)
    assert len(found) == 2 and "patient.id: required; add it" in found
    found = validate_clinical({"patient": "P1", "date_of_service": "2025-01-01"}, today=TODAY)
    assert found == ["patient: must be an object with keys id, age_years, not a string"]


def test_all_problems_reported_together_in_one_line(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(rf.clinical(icd10=["bad"], purpose="fun", colour="blue")))
    with pytest.raises(UserError) as err:
        load_clinical(path, today=TODAY)
    msg = str(err.value)
    assert "3 problems" in msg and "\n" not in msg
    assert "icd10[0]" in msg and "purpose" in msg and "colour" in msg


def test_unreadable_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_clinical(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"patient": ')
    with pytest.raises(UserError, match="not valid JSON"):
        load_clinical(bad)
    arr = tmp_path / "arr.json"
    arr.write_text("[]")
    with pytest.raises(UserError, match="JSON object"):
        load_clinical(arr)


def test_missing_documentation_lists_absent_keys_and_reason_for_reduced_trials():
    data = rf.clinical(management_plan=None, interpreted_by=None, trial_status="reduced")
    missing = missing_documentation(data)
    for key in ("management_plan", "interpreted_by.name", "interpretation", "trial_status_reason"):
        assert key in missing
