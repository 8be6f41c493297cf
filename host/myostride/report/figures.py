"""Figure helpers for the report: PNG bytes and data URIs.

The per-muscle figures themselves come from the analysis package
(`myostride.analysis.plots.muscle_figure`), so the report shows exactly the plots
`myostride analyze --plots` writes.
"""

import base64
import io


def figure_png(fig, dpi=150):
    """PNG bytes of a matplotlib figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def png_data_uri(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
