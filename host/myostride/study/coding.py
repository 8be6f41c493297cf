"""CPT code suggestions for a dynamic EMG study (96002/96003/96004) and their conflict checks.

Rules (DESIGN.md s.4 and the CPT texts in ../shared/seeds/): 96002 once per study for 1-12
muscles; 96003 one unit per fine-wire muscle; 96004 (review, interpretation and written report)
only when a named clinician's interpretation is present; do not report 96002/96003 with
95860-95866, 95869-95872, 95885-95887; do not report 95860-95875 with 96000-96004; 96000 and
96001 not together; modifier 52 for a reduced and 53 for a discontinued study.
These are suggestions for the billing provider: decision support, not billing advice.
"""

DISCLAIMER = ("Coding suggestions are decision support, not billing advice: the billing provider decides "
              "and is responsible for the codes and modifiers submitted, following the current CPT codebook "
              "and the payer's policy. CPT is a registered trademark of the American Medical Association.")

MAX_MUSCLES_96002 = 12
TRIAL_MODIFIERS = {"reduced": "52", "discontinued": "53"}

# (codes this rule applies to, forbidden same-day range(s), citation)
NEEDLE_EMG_WITH_DYNAMIC_EMG = (
    ("96002", "96003"),
    (("95860", "95866"), ("95869", "95872"), ("95885", "95887")),
    "CPT: do not report 96002, 96003 with 95860-95866, 95869-95872, 95885-95887",
)
NEEDLE_EMG_WITH_MOTION_ANALYSIS = (
    ("96000", "96001", "96002", "96003", "96004"),
    (("95860", "95875"),),
    "CPT: do not report 95860-95875 in addition to 96000-96004",
)


def suggest_codes(surface_muscles, fine_wire_muscles=0, interpretation_by=None, other_codes=(),
                  trial_status="complete", repeat_same_day=False):
    """Suggested claim lines and warnings for one study.

    surface_muscles: number of muscles with usable surface EMG; fine_wire_muscles: number of
    fine-wire muscles; interpretation_by: name of the clinician whose written interpretation is
    present (None when absent); other_codes: CPT codes reported for the patient the same day;
    trial_status: "complete" | "reduced" | "discontinued" | None (unknown).
    Returns {"lines": [{"code", "units", "modifiers"}], "warnings": [{"code", "message"}]}.
    """
    lines, warnings = [], []
    modifiers = []
    if trial_status in TRIAL_MODIFIERS:
        modifiers.append(TRIAL_MODIFIERS[trial_status])
        warnings.append(_w(TRIAL_MODIFIERS[trial_status],
                           "study %s: modifier %s suggested on the procedure lines; document the reason"
                           % (trial_status, TRIAL_MODIFIERS[trial_status])))
    elif trial_status is None:
        warnings.append(_w("96002", "trial_status not documented: cannot tell whether modifier 52 (reduced) "
                                    "or 53 (discontinued) applies"))

    if surface_muscles <= 0:
        warnings.append(_w("96002", "no muscle with usable surface EMG data: 96002 is not suggested"))
    else:
        lines.append({"code": "96002", "units": 1, "modifiers": list(modifiers)})
        if surface_muscles > MAX_MUSCLES_96002:
            warnings.append(_w("96002", "%d muscles tested: 96002 covers 1-%d muscles per study (one unit); "
                                        "muscles beyond %d are not separately reportable"
                               % (surface_muscles, MAX_MUSCLES_96002, MAX_MUSCLES_96002)))
    if fine_wire_muscles > 0:
        lines.append({"code": "96003", "units": int(fine_wire_muscles), "modifiers": list(modifiers)})

    if interpretation_by:
        lines.append({"code": "96004", "units": 1, "modifiers": []})
    else:
        warnings.append(_w("96004", "96004 not suggested: no written interpretation by a named clinician "
                                    "(add interpretation and interpreted_by to the clinical file)"))

    if repeat_same_day:
        warnings.append(_w("76", "a prior study is documented on the same date: review modifier 76 (same "
                                 "physician) or 77 (another physician) and document why it was repeated"))

    other = [str(c) for c in other_codes]
    ours = [line["code"] for line in lines]
    for code in ours:
        if code in other:
            warnings.append(_w(code, "%s is already listed in other_codes_same_day: report it once per study"
                               % code))
    for code in sorted(set(ours) | set(other)):
        warning = _conflict_warning(code, other, code in ours)
        if warning:
            warnings.append(warning)
    if "96000" in other and "96001" in other:
        warnings.append(_w("96000", "96000 and 96001 are both listed the same day: they are not reported "
                                    "together (96001 includes the 96000 service plus plantar pressure)"))
    return {"lines": lines, "warnings": warnings}


def _conflict_warning(code, other, suggested):
    """One warning per code naming every same-day code it must not be reported with."""
    hits, citations = [], []
    for applies_to, ranges, citation in (NEEDLE_EMG_WITH_DYNAMIC_EMG, NEEDLE_EMG_WITH_MOTION_ANALYSIS):
        if code not in applies_to:
            continue
        found = [c for c in other if c != code and any(_in_range(c, lo, hi) for lo, hi in ranges)]
        if found:
            hits.extend(c for c in found if c not in hits)
            citations.append(citation)
    if not hits:
        return None
    return _w(code, "%s%s conflicts with %s reported the same day (%s)"
              % (code, " (suggested here)" if suggested else " (listed same day)", ", ".join(hits),
                 "; ".join(citations)))


def _in_range(code, lo, hi):
    return code.isdigit() and len(code) == 5 and int(lo) <= int(code) <= int(hi)


def _w(code, message):
    return {"code": code, "message": message}
