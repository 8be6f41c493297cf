"""The clinical report: report.html (self-contained) and report.pdf from a summary and its analysis.

Depends only on the summary dict (myostride.study) and the analysis plots; the study package
writes summary.json and calls write_report (myostride.study.write_study_outputs).
"""

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

