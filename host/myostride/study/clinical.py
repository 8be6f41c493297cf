"""Clinical metadata for one study: the documented `--clinical FILE` schema and its validation.

The file is what the performing and interpreting clinicians document (who, why, which codes
on the same day). Validation collects every problem and reports them together, each naming
the field and the fix, so a clinic corrects the file in one pass. Absent keys are not errors:
they are reported as missing documentation in the summary (myostride.study.summary). Nothing is
normalised or rewritten: a value is accepted exactly as written or rejected.
docs/clinical-input.md describes every key.
"""

import datetime
import json
import re
from pathlib import Path

from ..dictpath import get_path
from ..errors import UserError

PURPOSES = ("clinical", "research", "screening", "cosmetic")
TRIAL_STATUSES = ("complete", "reduced", "discontinued")
SIDES = ("left", "right")
MAX_AGE_YEARS = 120

# ICD-10-CM: letter, digit, digit (or A/B in the few categories like M1A, C7B, Z3A), then
# optionally '.' and 1-4 letters/digits (7th characters and 'X' placeholders: M21.6X1, S82.101A).
ICD10_PATTERN = re.compile(r"^[A-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$")
# CPT: five digits (Category I) or four digits + F/T/U (Category II, III, PLA).
CPT_PATTERN = re.compile(r"^([0-9]{5}|[0-9]{4}[FTU])$")
DATE_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

# Field kinds: "text" (non-empty string), "date" (YYYY-MM-DD), "age", "enum:<a|b>",
# "icd10_list", "cpt_list", "muscle_list", "number_mm", {nested object spec}.
PERSON = {"name": "text", "credentials": "text"}
SCHEMA = {
    "patient": {"id": "text", "age_years": "age"},
    "date_of_service": "date",
    "referring_clinician": "text",
    "performed_by": PERSON,
    "interpreted_by": {"name": "text", "credentials": "text", "specialty": "text"},
    "interpretation": "text",
    "indication": "text",
    "icd10": "icd10_list",
    "clinical_question": "text",
    "management_plan": "text",
    "prior_conservative_care": "text",
    "gait_history_exam": "text",
    "functional_measures": "text",
    "purpose": "enum:" + "|".join(PURPOSES),
    "other_codes_same_day": "cpt_list",
    "prior_study": {"date": "date", "new_indication": "text"},
    "prior_authorization": "text",
    "trial_status": "enum:" + "|".join(TRIAL_STATUSES),
    "trial_status_reason": "text",
    "fine_wire_muscles": "muscle_list",
    "electrodes": {
        "type": "text",
        "material": "text",
        "size_mm": "number_mm",
        "inter_electrode_distance_mm": "number_mm",
        "skin_preparation": "text",
        "placement_guide": "text",
    },
}

# Keys without which the payer's documentation checklist is not complete (seed 002, criterion 5,
# plus what the report itself must name). Dotted paths into the clinical file.
DOCUMENTATION_KEYS = (
    "patient.id",
    "patient.age_years",
    "date_of_service",
    "referring_clinician",
    "performed_by.name",
    "performed_by.credentials",
    "interpreted_by.name",
    "interpreted_by.credentials",
    "interpreted_by.specialty",
    "interpretation",
    "indication",
    "icd10",
    "clinical_question",
    "management_plan",
    "prior_conservative_care",
    "gait_history_exam",
    "functional_measures",
    "purpose",
    "trial_status",
)
REQUIRED_KEYS = ("patient.id", "date_of_service")
# The pseudonymous example the demo uses (docs/clinical-input.md).
EXAMPLE_CLINICAL_PATH = Path(__file__).resolve().parent.parent / "data" / "example_clinical.json"


def load_clinical(path, today=None):
    """Read and validate a clinical JSON file; raise UserError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("clinical file %s does not exist; pass an existing JSON file to --clinical" % path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError("cannot read clinical file %s (%s); save it as UTF-8 JSON" % (path, exc))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError("clinical file %s is not valid JSON (line %d column %d: %s); fix the syntax"
                        % (path, exc.lineno, exc.colno, exc.msg))
    problems = validate_clinical(data, today=today)
    if problems:
        raise UserError("clinical file %s has %d problem%s: %s; see docs/clinical-input.md"
                        % (path, len(problems), "" if len(problems) == 1 else "s", "; ".join(problems)))
    return data


def validate_clinical(data, today=None):
    """Return a list of problems (empty when valid). `today` (datetime.date) defaults to the real date."""
    if not isinstance(data, dict):
        return ["the file must contain a JSON object ({...}), not %s" % _type_name(data)]
    problems = []
    _check_object(data, SCHEMA, "", problems)
    for key in REQUIRED_KEYS:
        parent = key.split(".")[0]
        # Not when the value or its parent object is already reported (e.g. wrong type).
        if get_path(data, key) is None and not any(p.startswith((key + ":", parent + ":")) for p in problems):
            problems.append("%s: required; add it" % key)
    _check_dates(data, today or datetime.date.today(), problems)
    return problems


def missing_documentation(data):
    """Documentation keys (dotted) that are absent or empty in a validated clinical dict."""
    missing = []
    for key in DOCUMENTATION_KEYS:
        value = get_path(data, key)
        if value is None or value == "" or value == []:
            missing.append(key)
    if get_path(data, "trial_status") in ("reduced", "discontinued") and not get_path(data, "trial_status_reason"):
        missing.append("trial_status_reason")
    return missing


def parse_date(text):
    return datetime.date.fromisoformat(text)


def _check_object(obj, spec, prefix, problems):
    for key in obj:
        if key not in spec:
            allowed = ", ".join(sorted(spec))
            problems.append("%s: unknown key; allowed keys%s: %s"
                            % (prefix + key, " in " + prefix[:-1] if prefix else "", allowed))
    for key, kind in spec.items():
        if key not in obj or obj[key] is None:
            continue
        _check_value(obj[key], kind, prefix + key, problems)


def _check_value(value, kind, field, problems):
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            problems.append("%s: must be an object with keys %s, not %s"
                            % (field, ", ".join(kind), _type_name(value)))
            return
        _check_object(value, kind, field + ".", problems)
        return
    if kind == "text":
        if not isinstance(value, str):
            problems.append("%s: must be a string, not %s" % (field, _type_name(value)))
        elif not value.strip():
            problems.append("%s: is empty; write the text or remove the key" % field)
    elif kind == "date":
        if not isinstance(value, str) or not DATE_PATTERN.match(value):
            problems.append("%s: %s is not a date; write YYYY-MM-DD" % (field, json.dumps(value)))
            return
        try:
            parse_date(value)
        except ValueError:
            problems.append("%s: %s is not a calendar date; write a real YYYY-MM-DD date" % (field, value))
    elif kind == "age":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append("%s: must be a number of years, not %s" % (field, _type_name(value)))
        elif not 0 <= value <= MAX_AGE_YEARS:
            problems.append("%s: %s is out of range; use 0 to %d years" % (field, value, MAX_AGE_YEARS))
    elif kind == "number_mm":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append("%s: must be a number of millimetres, not %s" % (field, _type_name(value)))
        elif not 0 < value <= 100:
            problems.append("%s: %s mm is out of range; use a value in (0, 100] mm" % (field, value))
    elif kind.startswith("enum:"):
        allowed = kind[5:].split("|")
        if value not in allowed:
            problems.append("%s: %s is not allowed; use one of %s" % (field, json.dumps(value), ", ".join(allowed)))
    elif kind in ("icd10_list", "cpt_list"):
        if not isinstance(value, list):
            problems.append("%s: must be a list of strings, not %s" % (field, _type_name(value)))
            return
        pattern = ICD10_PATTERN if kind == "icd10_list" else CPT_PATTERN
        example = "G80.1, R26.89 or M21.6X1 (upper case, with the dot)" if kind == "icd10_list" \
            else "95870 (five digits) or 0159T"
        for i, code in enumerate(value):
            if not isinstance(code, str) or not pattern.match(code):
                problems.append("%s[%d]: %s is not a valid %s code; write it like %s"
                                % (field, i, json.dumps(code), "ICD-10" if kind == "icd10_list" else "CPT", example))
    elif kind == "muscle_list":
        if not isinstance(value, list):
            problems.append("%s: must be a list of {\"muscle\", \"side\"} objects, not %s" % (field, _type_name(value)))
            return
        for i, item in enumerate(value):
            _check_value(item, {"muscle": "text", "side": "enum:left|right"}, "%s[%d]" % (field, i), problems)
            if isinstance(item, dict) and "muscle" not in item:
                problems.append("%s[%d].muscle: required; name the fine-wire muscle" % (field, i))
    else:  # pragma: no cover - schema typo
        raise AssertionError("unknown field kind %r" % kind)


def _check_dates(data, today, problems):
    dos = _date_or_none(get_path(data, "date_of_service"))
    if dos is not None and dos > today:
        problems.append("date_of_service: %s is in the future (today is %s); use the date the study was done"
                        % (dos, today))
    prior = _date_or_none(get_path(data, "prior_study.date"))
    if prior is not None:
        if dos is not None and prior > dos:
            problems.append("prior_study.date: %s is after date_of_service %s; a prior study must come first"
                            % (prior, dos))
        elif dos is None and prior > today:
            problems.append("prior_study.date: %s is in the future" % prior)


def _date_or_none(value):
    if not isinstance(value, str) or not DATE_PATTERN.match(value):
        return None
    try:
        return parse_date(value)
    except ValueError:
        return None


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)
