"""The clinical report: report.html (self-contained) and report.pdf from a summary and its analysis."""

from pathlib import Path


def write_report(summary, analysis, out_dir, figure_maker=None):
    """Write report.html and report.pdf into out_dir; returns (html_path, pdf_path).

    figure_maker(channel) -> matplotlib Figure overrides the built-in per-muscle figure.
    """
    from .content import report_sections
    from .html import write_html
    from .pdf import write_pdf

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = report_sections(summary, analysis, figure_maker)
    html_path = write_html(out_dir / "report.html", summary, sections)
    pdf_path = write_pdf(out_dir / "report.pdf", summary, sections)
    return html_path, pdf_path


def write_study_outputs(analysis, clinical, out_dir, session=None):
    """summary.json, report.html and report.pdf for one study in out_dir (created).

    analysis: myostride.analysis/1 dict; clinical: a validated clinical dict
    (myostride.clinical.load_clinical); session: Session, manifest dict or None.
    Returns {"summary": dict, "summary_json": path, "html": path, "pdf": path}.
    """
    from ..summary import build_summary, write_json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = build_summary(analysis, clinical, session)
    summary_path = write_json(out_dir / "summary.json", summary)
    html_path, pdf_path = write_report(summary, analysis, out_dir)
    return {"summary": summary, "summary_json": summary_path, "html": html_path, "pdf": pdf_path}
