import re

import numpy as np
import pytest

from myostride.report import write_report
from myostride.study.summary import build_summary

import report_fixtures as rf

LAYOUT = rf.DEFAULT_LAYOUT[:3] + rf.DEFAULT_LAYOUT[6:9]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    analysis = rf.analysis(layout=LAYOUT, unusable=(1,), shift=(2,))
    summary = build_summary(analysis, rf.clinical(other_codes_same_day=["95870"]), rf.session_meta(len(LAYOUT)))
    html_path, pdf_path = write_report(summary, analysis, out)
    return summary, html_path, pdf_path


def test_html_is_self_contained(written):
    summary, html_path, _ = written
    text = html_path.read_text(encoding="utf-8")
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:)", text, re.I), "external resource in report.html"
    assert "<link" not in text.lower() and "<script" not in text.lower() and "url(" not in text.lower()
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == len(LAYOUT)
    for name in ("MS-DEMO-0001", "96002", "decision support, not billing advice", "Signature and date",
                 "Interpretation pending", "95870", "NOT MET", "Left Gastrocnemius medialis",
                 "hardware/electrode-placement.md#gastrocnemius-medialis"):
        assert name in text, name


def test_html_escapes_clinical_text(tmp_path):
    analysis = rf.analysis(layout=LAYOUT[:1])
    summary = build_summary(analysis, rf.clinical(indication="<script>alert(1)</script> & toe walking"), None)
    html_path, _ = write_report(summary, analysis, tmp_path)
    text = html_path.read_text()
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; toe walking" in text


def test_pdf_renders_multi_page_non_blank(written, tmp_path):
    import pypdfium2 as pdfium

    summary, _, pdf_path = written
    pdf = pdfium.PdfDocument(str(pdf_path))
    assert len(pdf) >= 4
    texts = []
    for i in range(len(pdf)):
        page = pdf[i]
        img = np.asarray(page.render(scale=0.6).to_pil().convert("L"))
        ink = (img < 200).mean()
        assert ink > 0.01, "page %d is blank" % (i + 1)
        texts.append(page.get_textpage().get_text_range())
    text = " ".join(texts)
    for needle in ("MS-DEMO-0001", "Coding suggestions", "96002", "Payer criteria", "Signature and date",
                   "Performed by: A. Example", "Interpreting clinician: Dr. I. Example", "Page %d" % len(pdf)):
        assert needle in text, needle
    # One figure per muscle: the PDF embeds them as images.
    n_images = sum(1 for i in range(len(pdf)) for obj in pdf[i].get_objects()
                   if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)
    assert n_images == len(LAYOUT)
    pdf.close()


def test_cited_placement_sections_exist():
    """Each muscle's caption cites hardware/electrode-placement.md#<muscle>; the guide must have that heading."""
    from pathlib import Path

    from myostride.muscles import MUSCLES
    from myostride.report.content import PLACEMENT_GUIDE

    guide = Path(__file__).resolve().parents[2] / PLACEMENT_GUIDE
    slugs = set()
    for line in guide.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slugs.add(re.sub(r"[^a-z0-9 -]", "", title).replace(" ", "-"))
    missing = [m for m in MUSCLES if m.replace("_", "-") not in slugs]
    assert not missing, "no section in %s for %s" % (PLACEMENT_GUIDE, missing)
