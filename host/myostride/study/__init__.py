"""The study paperwork: what turns an analysis into a billable, signable 96002 study.

clinical (the clinician's input file), coding (CPT suggestions), payer (coverage criteria),
equipment (ISEK equipment facts from recorded sources) and summary (summary.json joining them).
`write_study_outputs` writes summary.json and hands the summary dict to the report, which
depends only on that dict and the plots (data flows analysis -> study -> report).
"""

from pathlib import Path


def write_study_outputs(analysis, clinical, out_dir, session=None):
    """summary.json, report.html and report.pdf for one study in out_dir (created).

    analysis: myostride.analysis/1 dict; clinical: a validated clinical dict
    (myostride.study.clinical.load_clinical); session: Session, manifest dict or None.
    Returns {"summary": dict, "summary_json": path, "html": path, "pdf": path}.
    """
    from ..report import write_report
    from .summary import build_summary, write_json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = build_summary(analysis, clinical, session)
    summary_path = write_json(out_dir / "summary.json", summary)
    html_path, pdf_path = write_report(summary, analysis, out_dir)
    return {"summary": summary, "summary_json": summary_path, "html": html_path, "pdf": pdf_path}
