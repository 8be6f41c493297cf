"""Per-muscle figures (matplotlib object API on Agg, no pyplot state, safe in threads).

`muscle_figure(channel)` takes one channel object of the analysis JSON and returns a Figure:
top, the normalised envelope over the gait cycle (mean +/- SD) with the normal windows shaded;
bottom, the stride-by-stride activation raster (excluded strides hatched) with the share of
strides active at each % of the cycle. `draw_envelope` / `draw_raster` draw into given axes,
`png_bytes` renders to PNG, so the report embeds exactly what `analyze --plots` writes.
"""

import io
import os
import re

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

NORMAL_COLOUR = "#cfe3cf"
ENVELOPE_COLOUR = "#1f4e79"
ACTIVE_COLOUR = "#c0504d"


def _shade(ax, channel, stance_pct):
    for on, off in channel.get("normal_windows_pct") or []:
        ax.axvspan(on, off, color=NORMAL_COLOUR, zorder=0, lw=0)
    if stance_pct:
        ax.axvline(stance_pct, color="#888888", lw=0.8, ls="--", zorder=1)


def draw_envelope(ax, channel, stance_pct=None):
    """Envelope mean +/- SD over 0-100 % of the cycle, normal windows shaded."""
    _shade(ax, channel, stance_pct)
    env = channel.get("envelope") or {}
    mean, sd = env.get("mean") or [], env.get("sd") or []
    if mean and all(v is not None for v in mean):
        x = [100.0 * i / (len(mean) - 1) for i in range(len(mean))]
        if len(sd) == len(mean) and all(v is not None for v in sd):
            ax.fill_between(x, [m - s for m, s in zip(mean, sd)], [m + s for m, s in zip(mean, sd)],
                            color=ENVELOPE_COLOUR, alpha=0.2, lw=0, zorder=2)
        ax.plot(x, mean, color=ENVELOPE_COLOUR, lw=1.5, zorder=3)
    else:
        ax.text(50, 0.5, "no usable stride", ha="center", va="center", fontsize=8, transform=ax.transData)
    ax.set_xlim(0, 100)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("envelope / %s" % env.get("normalisation", "?"), fontsize=8)
    ax.tick_params(labelsize=7)


def draw_raster(ax, channel, stance_pct=None):
    """One row per stride: active spans (red), excluded strides hatched; line: share of strides active."""
    _shade(ax, channel, stance_pct)
    cycles = channel.get("cycles") or []
    for row, cyc in enumerate(cycles):
        if cyc.get("excluded"):
            ax.broken_barh([(0, 100)], (row + 0.1, 0.8), facecolors="none", edgecolors="#999999", hatch="////", lw=0.3)
        else:
            spans = [(a, max(b - a, 0.3)) for a, b in cyc.get("active_pct") or []]
            if spans:
                ax.broken_barh(spans, (row + 0.15, 0.7), facecolors=ACTIVE_COLOUR, lw=0, zorder=2)
    freq = channel.get("activation_frequency") or []
    if freq and cycles:
        share = ax.twinx()
        share.plot([100.0 * i / (len(freq) - 1) for i in range(len(freq))], [100.0 * f for f in freq],
                   color="#333333", lw=0.9)
        share.set_ylim(0, 100)
        share.set_ylabel("% strides active", fontsize=7)
        share.tick_params(labelsize=6)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, max(len(cycles), 1))
    ax.set_ylabel("stride", fontsize=8)
    ax.set_xlabel("% gait cycle from foot strike", fontsize=8)
    ax.tick_params(labelsize=7)


def muscle_figure(channel, title=None, stance_pct=None, width_in=7.0):
    """matplotlib Figure (envelope above, raster below) for one channel of the analysis JSON."""
    fig = Figure(figsize=(width_in, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(2, 1, height_ratios=(3, 2), hspace=0.35, left=0.1, right=0.9, top=0.87, bottom=0.14)
    draw_envelope(fig.add_subplot(gs[0]), channel, stance_pct)
    draw_raster(fig.add_subplot(gs[1]), channel, stance_pct)
    usable = (channel.get("quality") or {}).get("usable", True)
    name = title or "%s %s (%s)" % ((channel.get("side") or "").capitalize(),
                                    (channel.get("muscle") or "").replace("_", " "), channel.get("label"))
    flags = ", ".join(f["kind"] for f in (channel.get("comparison") or {}).get("flags") or [])
    fig.suptitle(name + ("  [unreliable]" if not usable else "  [%s]" % flags if flags else ""),
                 fontsize=9, x=0.1, ha="left", color="#000000" if usable else ACTIVE_COLOUR)
    return fig


def png_bytes(channel, dpi=120, **kwargs):
    """PNG of muscle_figure(channel)."""
    buf = io.BytesIO()
    muscle_figure(channel, **kwargs).savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def write_pngs(result, folder):
    """One PNG per channel of an analysis result into folder (created); returns the paths."""
    os.makedirs(folder, exist_ok=True)
    stance = {side: (g.get("stance_pct") or {}).get("mean") for side, g in (result.get("gait") or {}).items()}
    paths = []
    for ch in result.get("channels") or []:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", "%s_%s_%s" % (ch["side"], ch["muscle"], ch["label"])).strip("_")
        path = os.path.join(folder, name + ".png")
        with open(path, "wb") as fh:
            fh.write(png_bytes(ch, stance_pct=stance.get(ch["side"])))
        paths.append(path)
    return paths
