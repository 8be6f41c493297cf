"""report.html: one self-contained file (inline CSS, figures as base64 PNG, no external resource).

A clinic can mail or archive it and open it offline; everything is escaped text.
"""

import html

from .content import TITLE
from .figures import png_data_uri

CSS = """
body{font-family:"Helvetica Neue",Arial,sans-serif;color:#1a1a1a;max-width:60em;margin:2em auto;padding:0 1em;
 font-size:14px;line-height:1.45}
h1{font-size:1.5em;border-bottom:3px solid #1f4e79;padding-bottom:.3em;color:#1f4e79}
h2{font-size:1.15em;color:#1f4e79;margin-top:1.8em;border-bottom:1px solid #ccd;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#eef2f7}
table.kv th{width:28%;font-weight:600}
.note{background:#fff7e0;border-left:4px solid #e0a800;padding:.5em .8em;margin:.6em 0}
figure{margin:1em 0;page-break-inside:avoid}
figure img{width:100%;max-width:52em;border:1px solid #e4e4e4}
figcaption{font-size:.85em;color:#555}
.sig{display:flex;gap:3em;margin-top:2.5em}
.sig div{flex:1;border-top:1px solid #000;padding-top:.3em;font-size:.9em}
@media print{body{margin:0;max-width:none}}
"""


def render_html(summary, sections):
    """The report as an HTML string from content.report_sections(...)."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>%s</title>" % _e(TITLE + " - " + str((summary.get("patient") or {}).get("id") or "")),
           "<style>%s</style></head><body>" % CSS, "<h1>%s</h1>" % _e(TITLE)]
    for section in sections:
        out.append("<section><h2>%s</h2>" % _e(section["title"]))
        for block in section["blocks"]:
            out.append(_block(block))
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)


def write_html(path, summary, sections):
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_html(summary, sections))
    return path


def _block(block):
    kind = block[0]
    if kind == "para":
        return "<p>%s</p>" % _e(block[1])
    if kind == "note":
        return '<p class="note">%s</p>' % _e(block[1])
    if kind == "kv":
        rows = "".join("<tr><th>%s</th><td>%s</td></tr>" % (_e(k), _e(v)) for k, v in block[1])
        return '<table class="kv">%s</table>' % rows
    if kind == "table":
        head = "".join("<th>%s</th>" % _e(h) for h in block[1])
        rows = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % _e(c) for c in row) for row in block[2])
        return "<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (head, rows)
    if kind == "list":
        return "<ul>%s</ul>" % "".join("<li>%s</li>" % _e(item) for item in block[1])
    if kind == "figure":
        return '<figure><img alt="%s" src="%s"><figcaption>%s</figcaption></figure>' % (
            _e(block[2]), png_data_uri(block[1]), _e(block[2]))
    if kind == "signatures":
        cells = "".join("<div>%s: %s<br>Signature and date</div>" % (_e(role), _e(name)) for role, name in block[1])
        return '<div class="sig">%s</div>' % cells
    raise ValueError("unknown report block %r" % kind)


def _e(text):
    return html.escape(str(text), quote=True)
