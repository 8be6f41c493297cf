"""Per-muscle report figures from an analysis channel: envelope over the gait cycle and stride raster.

Drawn with matplotlib's object API (Agg, no pyplot state) so reports can be built in any
thread. When the analysis package provides `plots.muscle_figure(channel)` the report uses
that (the same picture as `myostride analyze --plots`); this module is the renderer for
analysis JSON alone. Normal windows are shaded; the raster shows every stride's active spans
(excluded strides hatched) and how often the muscle is active at each % of the cycle.
"""

import base64
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

NORMAL_COLOUR = "#cfe3cf"
ENVELOPE_COLOUR = "#1f4e79"
ACTIVE_COLOUR = "#c0504d"
STANCE_PCT_DEFAULT = 60.0


def muscle_figure(channel, title=None, stance_pct=None, width_in=7.0):
    """matplotlib Figure for one analysis channel (dict to myostride.analysis/1)."""
    fig = Figure(figsize=(width_in, 3.0), dpi=100)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(2, 1, height_ratios=(3, 2), hspace=0.12, left=0.09, right=0.91, top=0.88, bottom=0.15)
    ax_env = fig.add_subplot(gs[0])
    ax_raster = fig.add_subplot(gs[1], sharex=ax_env)
    windows = channel.get("normal_windows_pct") or []
    for ax in (ax_env, ax_raster):
        for on, off in windows:
            ax.axvspan(on, off, color=NORMAL_COLOUR, zorder=0, lw=0)
        ax.axvline(stance_pct or STANCE_PCT_DEFAULT, color="#888888", lw=0.8, ls="--", zorder=1)
    _envelope(ax_env, channel)
    _raster(ax_raster, channel)
    ax_raster.set_xlim(0, 100)
    ax_raster.set_xlabel("% gait cycle (from foot strike; dashed line: foot off)", fontsize=8)
    plt_title = title or "%s %s" % ((channel.get("side") or "").capitalize(),
                                    (channel.get("muscle") or channel.get("label") or "").replace("_", " "))
    usable = (channel.get("quality") or {}).get("usable", True)
    fig.suptitle(plt_title + ("" if usable else "  [NOT USABLE]"), fontsize=10, x=0.09, ha="left",
                 color="#000000" if usable else ACTIVE_COLOUR)
    return fig


def _envelope(ax, channel):
    env = channel.get("envelope") or {}
    mean, sd = env.get("mean"), env.get("sd")
    if mean:
        x = [100.0 * i / (len(mean) - 1) for i in range(len(mean))]
        if sd and len(sd) == len(mean):
            lo = [m - s for m, s in zip(mean, sd)]
            hi = [m + s for m, s in zip(mean, sd)]
            ax.fill_between(x, lo, hi, color=ENVELOPE_COLOUR, alpha=0.18, lw=0, zorder=2)
        ax.plot(x, mean, color=ENVELOPE_COLOUR, lw=1.6, zorder=3)
    else:
        ax.text(50, 0.5, "no envelope (no usable stride)", ha="center", va="center", fontsize=8)
    norm = env.get("normalisation") or "?"
    ax.set_ylabel("envelope\n(/%s)" % norm, fontsize=8)
    ax.tick_params(labelsize=7, labelbottom=False)
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.grid(axis="y", lw=0.3, color="#dddddd")


def _raster(ax, channel):
    cycles = channel.get("cycles") or []
    for row, cycle in enumerate(cycles):
        spans = [(a, max(b - a, 0.3)) for a, b in cycle.get("active_pct") or []]
        if cycle.get("excluded"):
            ax.broken_barh([(0, 100)], (row + 0.1, 0.8), facecolors="none", edgecolors="#999999",
                           hatch="////", lw=0.3, zorder=2)
        elif spans:
            ax.broken_barh(spans, (row + 0.15, 0.7), facecolors=ACTIVE_COLOUR, lw=0, zorder=2)
    freq = channel.get("activation_frequency")
    if freq and cycles:
        x = [100.0 * i / (len(freq) - 1) for i in range(len(freq))]
        share = ax.twinx()
        share.plot(x, [100.0 * f for f in freq], color="#333333", lw=0.9, zorder=3)
        share.set_ylim(0, 100)
        share.set_ylabel("% strides\nactive", fontsize=7)
        share.tick_params(labelsize=6)
    ax.set_ylim(0, max(len(cycles), 1))
    ax.set_ylabel("stride", fontsize=8)
    ax.tick_params(labelsize=7)
    if not cycles:
        ax.text(50, 0.5, "no strides", ha="center", va="center", fontsize=8)


def figure_png(fig, dpi=150):
    """PNG bytes of a figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def png_data_uri(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
