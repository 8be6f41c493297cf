"""report.pdf: the same content as report.html laid out for print with reportlab (platypus).

Letter pages with a running header (patient ID, date of service) and page numbers, tables that
wrap long text, one figure per muscle, and signature lines for the performer and the
interpreting clinician.
"""

import io

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table,
                                TableStyle)
from xml.sax.saxutils import escape

from .content import TITLE

ACCENT = colors.HexColor("#1f4e79")
GRID = colors.HexColor("#ccccdd")
HEAD_BG = colors.HexColor("#eef2f7")
NOTE_BG = colors.HexColor("#fff7e0")
MARGIN = 0.7 * inch


def _styles():
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontSize=16, textColor=ACCENT, alignment=TA_LEFT,
                                spaceAfter=10),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=12, textColor=ACCENT, spaceBefore=12,
                             spaceAfter=5),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontSize=9, leading=12),
        "cell": ParagraphStyle("c", parent=base["BodyText"], fontSize=7.5, leading=9.5),
        "cellb": ParagraphStyle("cb", parent=base["BodyText"], fontSize=7.5, leading=9.5, fontName="Helvetica-Bold"),
        "note": ParagraphStyle("n", parent=base["BodyText"], fontSize=8.5, leading=11, backColor=NOTE_BG,
                               borderPadding=5, spaceBefore=6, spaceAfter=8),
        "caption": ParagraphStyle("cap", parent=base["BodyText"], fontSize=7.5, textColor=colors.HexColor("#555555")),
    }


def write_pdf(path, summary, sections):
    """Write report.pdf from content.report_sections(...); returns path."""
    styles = _styles()
    width = letter[0] - 2 * MARGIN
    story = [Paragraph(escape(TITLE), styles["title"])]
    for section in sections:
        heading = Paragraph(escape(section["title"]), styles["h2"])
        flowables = []
        for block in section["blocks"]:
            flowables.extend(_block(block, styles, width))
        if section["title"] == "Signatures":
            story.append(KeepTogether([heading] + flowables))
        elif flowables:
            story.append(KeepTogether([heading, flowables[0]]))
            story.extend(flowables[1:])
    patient = (summary.get("patient") or {}).get("id") or "patient ID not recorded"
    dos = summary.get("date_of_service") or "date not recorded"

    def on_page(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(MARGIN, letter[1] - 0.45 * inch, "myostride dynamic sEMG report  |  %s  |  %s" % (patient, dos))
        canvas.drawRightString(letter[0] - MARGIN, 0.45 * inch, "Page %d" % doc.page)
        canvas.drawString(MARGIN, 0.45 * inch, "Coding suggestions are decision support, not billing advice.")
        canvas.setStrokeColor(ACCENT)
        canvas.line(MARGIN, letter[1] - 0.5 * inch, letter[0] - MARGIN, letter[1] - 0.5 * inch)
        canvas.restoreState()

    doc = SimpleDocTemplate(str(path), pagesize=letter, leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=0.75 * inch, bottomMargin=0.7 * inch, title="%s - %s" % (TITLE, patient),
                            author="myostride", subject="CPT 96002 dynamic surface EMG study")
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return path


def _block(block, styles, width):
    kind = block[0]
    if kind == "para":
        return [Paragraph(escape(str(block[1])), styles["body"]), Spacer(1, 4)]
    if kind == "note":
        return [Paragraph(escape(str(block[1])), styles["note"])]
    if kind == "kv":
        rows = [[Paragraph(escape(k), styles["cellb"]), Paragraph(escape(str(v)), styles["cell"])]
                for k, v in block[1]]
        return [_table(rows, [1.9 * inch, width - 1.9 * inch], header=False)]
    if kind == "table":
        header, rows = block[1], block[2]
        data = [[Paragraph(escape(h), styles["cellb"]) for h in header]]
        data += [[Paragraph(escape(str(c)), styles["cell"]) for c in row] for row in rows]
        return [_table(data, _col_widths(header, rows, width), header=True)]
    if kind == "list":
        return [Paragraph("\u2022 " + escape(str(item)), styles["body"]) for item in block[1]] + [Spacer(1, 4)]
    if kind == "figure":
        img = Image(io.BytesIO(block[1]))
        scale = width / img.imageWidth
        img.drawWidth, img.drawHeight = width, img.imageHeight * scale
        return [KeepTogether([img, Paragraph(escape(block[2]), styles["caption"]), Spacer(1, 8)])]
    if kind == "signatures":
        cells = [[Paragraph("<br/><br/><br/>", styles["body"]) for _ in block[1]],
                 [Paragraph("%s: %s<br/>Signature and date" % (escape(role), escape(name)), styles["cell"])
                  for role, name in block[1]]]
        t = Table(cells, colWidths=[width / len(block[1]) - 10] * len(block[1]))
        t.setStyle(TableStyle([("LINEABOVE", (0, 1), (-1, 1), 0.8, colors.black),
                               ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 14)]))
        return [Spacer(1, 10), t]
    raise ValueError("unknown report block %r" % kind)


def _col_widths(header, rows, width):
    """Each column at least as wide as its longest header word; the rest shared by text length."""
    floor = [max(stringWidth(w, "Helvetica-Bold", 7.5) for w in str(h).split() or [""]) + 10 for h in header]
    longest = []
    for i, h in enumerate(header):
        n = max([len(str(h))] + [len(str(r[i])) for r in rows if i < len(r)])
        longest.append(min(max(n, 4), 60))
    spare = max(width - sum(floor), 0.0)
    total = float(sum(longest))
    return [f + spare * n / total for f, n in zip(floor, longest)]


def _table(data, widths, header):
    t = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    style = [("GRID", (0, 0), (-1, -1), 0.4, GRID), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), HEAD_BG))
    else:
        style.append(("BACKGROUND", (0, 0), (0, -1), HEAD_BG))
    t.setStyle(TableStyle(style))
    return t
