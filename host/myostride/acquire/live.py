"""Live recording display (rich): one row per node, refreshed from Recorder.live_snapshot() (snapshot.py)."""

from rich.live import Live
from rich.table import Table


def _fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def render(snap):
    seconds = snap.get("seconds")
    title = "recording %.1f s%s%s" % (
        snap["elapsed_s"],
        (" of %.0f s" % seconds) if seconds else "",
        "  (stopping: fetching missing frames)" if snap.get("stopping") else "  (Ctrl-C stops and keeps everything)",
    )
    t = Table(title=title, title_justify="left")
    for col, just in (("node", "left"), ("side", "left"), ("muscle", "left"), ("link", "left"), ("rate Hz", "right"),
                      ("loss %", "right"), ("recovered", "right"), ("pending", "right"), ("lost", "right"),
                      ("battery %", "right"), ("RMS uV", "right"), ("noise uV", "right"), ("sync rtt ms", "right"), ("electrode", "left")):
        t.add_column(col, justify=just)
    for n in snap["nodes"]:
        link = "up" if n["connected"] else "[red]down[/red]"
        if n.get("disconnects"):
            link += " (%d drop%s)" % (n["disconnects"], "s" if n["disconnects"] > 1 else "")
        t.add_row(
            n["label"], n["side"], n["muscle"], link, "%d" % n["rate_hz"],
            "%.1f" % n["loss_pct"], "%d" % n["recovered"], "%d" % n["pending"],
            ("[red]%d[/red]" % n["lost"]) if n["lost"] else "0",
            _fmt(n["battery_pct"], "d"), _fmt(n["rms_uv"], ".1f"), _fmt(n["noise_uv"], ".1f"),
            _fmt(n["sync_rtt_ms"], ".1f"), "[red]LEAD OFF[/red]" if n["lead_off"] else "ok",
        )
    return t


class LiveDisplay:
    """Context manager; pass .update as the recorder's progress callback."""

    def __init__(self, console=None):
        self.live = Live(Table(title="connecting..."), console=console, refresh_per_second=4, transient=False)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)

    def update(self, snap):
        self.live.update(render(snap))
