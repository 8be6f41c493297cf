"""What every fault test asks of a finished recording: closed, bounded, loadable, honest."""

import numpy as np

from myostride.acquire import logscan
from myostride.session import load_session


def events(out):
    return logscan.scan_log(out / "raw.log").events


def end_seconds(out, since="stop_sent"):
    """Host seconds from the first `since` event (or the session start) to session_end."""
    ev = events(out)
    end = [e for e in ev if e["event"] == "session_end"]
    assert len(end) == 1, "session_end written exactly once"
    t0 = next((e["t_us"] for e in ev if e["event"] == since), ev[0]["t_us"])
    return (end[0]["t_us"] - t0) / 1e6


def check_loadable_and_honest(out):
    """The session loads; per node, every sample is in order once and what is missing is reported."""
    s = load_session(out)
    for ch in s.channels:
        entry = next(n for n in s.meta["nodes"] if n["node_id"] == ch.node_id)
        assert np.all(np.diff(ch.node_k) >= 1), ch.label
        assert entry["samples"]["received"] == len(ch.uv), (ch.label, entry["samples"])
        holes = int(np.sum(np.diff(ch.node_k) - 1)) if len(ch.node_k) > 1 else 0
        # the loader reports exactly the samples missing inside the recording, as gaps
        assert entry["samples"]["missing"] == holes == sum(g["samples"] for g in entry["gaps"]), (ch.label, entry["samples"], holes)
    return s
