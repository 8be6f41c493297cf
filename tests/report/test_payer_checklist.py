from myostride.study.clinical import missing_documentation
from myostride.study.payer import CRITERIA_IDS, evaluate_criteria

import report_fixtures as rf


def check(clinical, equipment_ok=True, missing=None):
    if missing is None:
        missing = missing_documentation(clinical)
    result = evaluate_criteria(clinical, equipment_ok, missing)
    assert [c["id"] for c in result] == list(CRITERIA_IDS)
    return {c["id"]: c for c in result}


def complete_clinical(**changes):
    base = {"interpretation": "Premature gastrocnemius activity in loading response bilaterally."}
    base.update(changes)
    return rf.clinical(**base)


def test_complete_clinical_meets_every_criterion():
    result = check(complete_clinical())
    assert all(c["met"] is True for c in result.values()), result


def test_clinical_indication():
    assert check(complete_clinical(icd10=[]))["clinical_indication"]["met"] is False
    assert check(complete_clinical(indication=None))["clinical_indication"]["met"] is False
    other = check(complete_clinical(icd10=["G35"]))["clinical_indication"]
    assert other["met"] is True and "none among the policy's sample codes" in other["detail"]


def test_missing_management_plan_fails():
    r = check(complete_clinical(management_plan=None))
    assert r["change_in_management"]["met"] is False
    assert r["complete_documentation"]["met"] is False and "management_plan" in r["complete_documentation"]["detail"]


def test_prior_conservative_care():
    assert check(complete_clinical(prior_conservative_care=None))["prior_conservative_care"]["met"] is False


def test_personnel_and_equipment():
    assert check(complete_clinical(), equipment_ok=False)["qualified_personnel_and_equipment"]["met"] is False
    unknown = check(complete_clinical(), equipment_ok=None)["qualified_personnel_and_equipment"]
    assert unknown["met"] is None and "not recorded" in unknown["detail"]
    assert check(complete_clinical(interpreted_by=None))["qualified_personnel_and_equipment"]["met"] is None
    no_perf = check(complete_clinical(performed_by={"name": "A"}))["qualified_personnel_and_equipment"]
    assert no_perf["met"] is False and "performed_by" in no_perf["detail"]


def test_documentation_missing_items_fail():
    r = check(complete_clinical(), missing=["equipment.front_end.cmrr_db"])
    assert r["complete_documentation"]["met"] is False and "cmrr" in r["complete_documentation"]["detail"]


def test_research_screening_cosmetic_not_covered():
    for purpose in ("research", "screening", "cosmetic"):
        r = check(complete_clinical(purpose=purpose))["covered_purpose"]
        assert r["met"] is False and purpose in r["detail"]
    assert check(complete_clinical(purpose=None))["covered_purpose"]["met"] is None


def test_repeat_without_new_indication_not_covered():
    r = check(complete_clinical(prior_study={"date": "2024-03-01"}))
    assert r["not_repeat_without_new_indication"]["met"] is False
    ok = check(complete_clinical(prior_study={"date": "2024-03-01", "new_indication": "after SEMLS surgery"}))
    assert ok["not_repeat_without_new_indication"]["met"] is True


def test_prior_authorization_unknown_when_absent():
    assert check(complete_clinical(prior_authorization=None))["prior_authorization"]["met"] is None
