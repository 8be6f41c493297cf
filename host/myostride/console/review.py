"""Review and report for one trial, through the functions `myostride report` itself uses.

review(): the analysis (commands.report.analyse_session), per-muscle figures (the report's own
analysis.plots.muscle_figure: envelope with the normal band, stride raster), flags, and the
summary's technical findings apart from the clinical ones. report(): exactly what
`myostride report TRIAL --clinical clinical.json --out reports/TRIAL` writes.
Both are slow (seconds): callers run them in a worker thread; one lock keeps matplotlib serial.
"""

import base64
import json
import threading

from ..errors import UserError

_LOCK = threading.Lock()
OUTPUTS = ("analysis.json", "summary.json", "report.html", "report.pdf")


def _analysis(trial_dir, report_dir):
    """The trial's analysis: reused from reports/ when it is newer than the session, else computed."""
    from ..commands.report import analyse_session
    from ..study.summary import write_json

    cached = report_dir / "analysis.json"
    session_json = trial_dir / "session.json"
    if cached.exists() and session_json.exists() and cached.stat().st_mtime >= session_json.stat().st_mtime:
        try:
            return json.loads(cached.read_text())
        except ValueError:
            pass
    analysis = analyse_session(trial_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_json(cached, analysis)
    return json.loads(cached.read_text())  # the JSON form the report reads (NaN-free)


def review(study, trial_id):
    from ..analysis.plots import png_bytes
    from ..study.clinical import validate_clinical
    from ..session import load_session
    from ..study.summary import build_summary

    trial_dir = study.trial_dir(trial_id)
    with _LOCK:
        session = load_session(trial_dir)
        analysis = _analysis(trial_dir, study.report_dir(trial_id))
        clinical = study.clinical()
        if validate_clinical(clinical):
            clinical = {"patient": {"id": "-"}, "date_of_service": session.meta["created_utc"][:10]}
        summary = build_summary(analysis, clinical, session)
        stance = {side: (g.get("stance_pct") or {}).get("mean") for side, g in (analysis.get("gait") or {}).items()}
        muscles = []
        by_label = {m["label"]: m for m in summary["muscles"]}
        for ch in analysis.get("channels") or []:
            m = by_label.get(ch["label"])
            if m is None:
                continue  # a channel without a muscle: not analysed (listed in the technical findings)
            png = png_bytes(ch, dpi=80, stance_pct=stance.get(ch["side"]))
            q = ch.get("quality") or {}
            muscles.append({
                "label": ch["label"], "side": ch["side"], "muscle": ch["muscle"], "name": m["name"],
                "usable": bool(q.get("usable")), "reasons": q.get("reasons") or [],
                "flags": [f for f in (ch.get("comparison") or {}).get("flags") or []],
                "strides_used": ch.get("strides_used"), "strides_excluded": ch.get("strides_excluded"),
                "figure": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            })
    clinical_findings = ["%s: %s" % (m["name"], f["detail"]) for m in muscles if m["usable"]
                         for f in m["flags"] if f.get("kind") != "normal"]
    return {"trial": trial_id, "status": session.meta.get("status"), "duration_s": session.meta.get("duration_s"),
            "simulated": summary["data_source"]["simulated"], "gait": analysis.get("gait"),
            "events_source": (analysis.get("events") or {}).get("source"), "muscles": muscles,
            "technical_findings": summary["technical_findings"], "clinical_findings": clinical_findings}


def report(study, trial_id):
    """Write the study's report for one trial (same outputs as the CLI); returns the summary's essentials."""
    from ..study.clinical import load_clinical
    from ..commands.report import analyse_session
    from ..study import write_study_outputs
    from ..session import load_session
    from ..study.summary import write_json

    trial_dir = study.trial_dir(trial_id)
    out = study.report_dir(trial_id)
    if not study.clinical_path.exists():
        raise UserError("the study has no valid clinical file yet; complete the Study page first")
    clinical = load_clinical(study.clinical_path)
    with _LOCK:
        session = load_session(trial_dir)
        analysis = analyse_session(trial_dir)  # as the CLI: analysed afresh, then written beside the report
        out.mkdir(parents=True, exist_ok=True)
        for name in OUTPUTS:
            (out / name).unlink(missing_ok=True)
        write_json(out / "analysis.json", analysis)
        paths = write_study_outputs(analysis, clinical, out, session)
    s = paths["summary"]
    return {"trial": trial_id, "files": {"html": "report.html", "pdf": "report.pdf", "summary": "summary.json",
                                         "analysis": "analysis.json"},
            "muscles_tested": s["muscles_tested"], "muscles_tested_list": s["muscles_tested_list"],
            "coding": s["coding"], "payer_criteria": s["payer_criteria"], "documentation": s["documentation"],
            "simulated": s["data_source"]["simulated"], "interpretation": s["interpretation"]}
