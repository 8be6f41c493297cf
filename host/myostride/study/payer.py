"""The payer's checklist for motion analysis / dynamic EMG (seed 002: 96000-96002, 96004 criteria).

Each criterion is {"id", "met", "detail"}: met is True, False (the record shows it is not met or
not documented, so the request would be denied as it stands) or None (cannot be decided from
the record, e.g. the interpreting clinician is not named yet). The criteria follow the policy's
"Criteria for Approval" 1-5, its coverage exclusions, frequency limits and prior authorization.
"""

from ..dictpath import get_path

# The policy's sample ICD-10 codes supporting medical necessity (examples, not exhaustive).
SAMPLE_ICD10_PREFIXES = ("G80.", "Q66.5", "R26.89", "M21.6", "Z96.6")
EXCLUDED_PURPOSES = {
    "research": "purely research purposes without an actionable treatment plan are not covered",
    "screening": "screening without symptoms is not covered",
    "cosmetic": "cosmetic assessment only is not covered",
}
CRITERIA_IDS = (
    "clinical_indication",
    "change_in_management",
    "prior_conservative_care",
    "qualified_personnel_and_equipment",
    "complete_documentation",
    "covered_purpose",
    "not_repeat_without_new_indication",
    "prior_authorization",
)


def evaluate_criteria(clinical, equipment_ok, documentation_missing):
    """Checklist for one study.

    clinical: validated clinical dict; equipment_ok: True (calibration/self-test passed on every
    node), False (a node failed) or None (not recorded); documentation_missing: the summary's
    documentation.missing list.
    """
    return [
        _indication(clinical),
        _text_criterion(clinical, "management_plan", "change_in_management",
                        "documents how results will change management",
                        "no management_plan: the referring clinician must document how the results will "
                        "change treatment (tests for curiosity or baseline only are not covered)"),
        _text_criterion(clinical, "prior_conservative_care", "prior_conservative_care",
                        "prior evaluation and conservative care documented",
                        "prior_conservative_care not documented: record the PT/orthotic/medication/spasticity "
                        "care tried, or why immediate testing is justified"),
        _personnel(clinical, equipment_ok),
        _documentation(documentation_missing),
        _purpose(clinical),
        _repeat(clinical),
        _prior_authorization(clinical),
    ]


def _criterion(cid, met, detail):
    return {"id": cid, "met": met, "detail": detail}


def _indication(clinical):
    text, codes = get_path(clinical, "indication"), get_path(clinical, "icd10") or []
    if not text and not codes:
        return _criterion("clinical_indication", False, "no indication and no ICD-10 code documented")
    if not text:
        return _criterion("clinical_indication", False,
                          "ICD-10 %s given but no indication text describing the gait/movement problem"
                          % ", ".join(codes))
    if not codes:
        return _criterion("clinical_indication", False, "indication documented but no ICD-10 code")
    sample = [c for c in codes if c.startswith(SAMPLE_ICD10_PREFIXES)]
    detail = "indication documented with ICD-10 %s" % ", ".join(codes)
    if sample:
        detail += " (%s among the policy's sample codes)" % ", ".join(sample)
    else:
        detail += " (none among the policy's sample codes G80.x, Q66.5, R26.89, M21.6x, Z96.6: attach " \
                  "documentation supporting medical necessity)"
    return _criterion("clinical_indication", True, detail)


def _text_criterion(clinical, key, cid, ok_detail, missing_detail):
    if get_path(clinical, key):
        return _criterion(cid, True, ok_detail)
    return _criterion(cid, False, missing_detail)


def _personnel(clinical, equipment_ok):
    performer = get_path(clinical, "performed_by") or {}
    interpreter = get_path(clinical, "interpreted_by") or {}
    problems, unknown = [], []
    if not (performer.get("name") and performer.get("credentials")):
        problems.append("performed_by name and credentials not documented")
    if not interpreter.get("name"):
        unknown.append("interpreting clinician not named yet")
    elif not (interpreter.get("credentials") and interpreter.get("specialty")):
        problems.append("interpreting clinician's credentials/specialty not documented")
    if equipment_ok is False:
        problems.append("a node failed its self-test/calibration check")
    elif equipment_ok is None:
        unknown.append("calibration/self-test results not recorded in the session")
    if problems:
        return _criterion("qualified_personnel_and_equipment", False, "; ".join(problems + unknown))
    if unknown:
        return _criterion("qualified_personnel_and_equipment", None, "; ".join(unknown))
    return _criterion("qualified_personnel_and_equipment", True,
                      "performed by %s, %s; interpreted by %s, %s (%s); all nodes passed self-test"
                      % (performer["name"], performer["credentials"], interpreter["name"],
                         interpreter["credentials"], interpreter["specialty"]))


def _documentation(missing):
    if missing:
        return _criterion("complete_documentation", False, "missing: " + ", ".join(missing))
    return _criterion("complete_documentation", True, "every required item is documented")


def _purpose(clinical):
    purpose = get_path(clinical, "purpose")
    if purpose is None:
        return _criterion("covered_purpose", None, "purpose not documented")
    if purpose in EXCLUDED_PURPOSES:
        return _criterion("covered_purpose", False, "purpose %s: %s" % (purpose, EXCLUDED_PURPOSES[purpose]))
    return _criterion("covered_purpose", True, "clinical purpose")


def _repeat(clinical):
    prior = get_path(clinical, "prior_study")
    if not prior:
        return _criterion("not_repeat_without_new_indication", True, "no prior study documented")
    when = prior.get("date", "an undocumented date")
    if prior.get("new_indication"):
        return _criterion("not_repeat_without_new_indication", True,
                          "repeat of the study of %s with a new indication: %s" % (when, prior["new_indication"]))
    return _criterion("not_repeat_without_new_indication", False,
                      "repeat of the study of %s without a documented new indication or change in clinical "
                      "status (prior_study.new_indication): not covered" % when)


def _prior_authorization(clinical):
    ref = get_path(clinical, "prior_authorization")
    if ref:
        return _criterion("prior_authorization", True, "prior authorization %s" % ref)
    return _criterion("prior_authorization", None,
                      "the policy requires prior authorization; record its reference in prior_authorization")
