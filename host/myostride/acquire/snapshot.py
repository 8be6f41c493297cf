"""The live view of a recording: per-node rate, loss, recovery, signal level, link, battery.

Recorder.live_snapshot() returns this dict; the terminal table (live.py), the
console (issue 14) and the progress callback all read the same thing:

    {"phase": "scanning"|"connecting"|"configuring"|"syncing"|"recording"|"stopping"|"draining"|"closed",
     "elapsed_s": float (since START), "seconds": requested length or None, "stopping": bool,
     "nodes": [{"node_id", "label", "side", "muscle", "connected", "rate_hz" (new samples in the
                last second), "loss_pct" (first-pass loss), "recovered", "pending", "lost" (frames),
                "battery_pct", "rms_uv" (last second), "noise_uv" (10th percentile of frame RMS over
                3 s), "lead_off", "sync_rtt_ms", "disconnects"}]}

Memory is bounded: each node keeps only the last few seconds of frame statistics.
"""

from collections import deque

import numpy as np

KEEP_US = 3_000_000  # frame statistics older than this are dropped as they arrive


class LiveStats:
    """Recent EMG frame statistics of one node (arrival time, RMS in ADC codes, samples)."""

    def __init__(self):
        self.frames = deque()  # (recv_us, rms_code, samples, new)

    def add_emg(self, recv_us, rms_code, samples, new):
        f = self.frames
        f.append((recv_us, rms_code, samples, new))
        cut = recv_us - KEEP_US
        while f and f[0][0] < cut:
            f.popleft()

    def row(self, now_us, nv_per_lsb):
        cut = now_us - 1_000_000
        recent = [x for x in self.frames if x[0] >= cut]
        rate = sum(c for _t, _r, c, new in recent if new)
        nv = (nv_per_lsb or 0) / 1000.0
        rms_uv = float(np.sqrt(np.mean(np.square([r for _t, r, _c, _n in recent])))) * nv if recent and nv else None
        allr = [r for _t, r, _c, _n in self.frames if _t >= now_us - KEEP_US]
        noise_uv = float(np.percentile(allr, 10)) * nv if allr and nv else None
        return rate, rms_uv, noise_uv


def node_row(st, now_us):
    """One node's snapshot row from the recorder's NodeState."""
    rate, rms_uv, noise_uv = st.live.row(now_us, st.nv_per_lsb)
    tr = st.tracker
    exp = tr.expected()
    first_pass_lost = (exp - (tr.received - tr.recovered)) if exp else 0
    return {
        "node_id": st.node_id, "label": st.map.label, "side": st.map.side, "muscle": st.map.muscle,
        "connected": bool(st.link and st.link.connected), "rate_hz": rate,
        "loss_pct": 100.0 * first_pass_lost / exp if exp else 0.0,
        "recovered": tr.recovered, "pending": tr.pending(), "lost": tr.lost(),
        "battery_pct": (st.status or {}).get("battery_pct", st.found.battery_pct if st.found else None),
        "rms_uv": rms_uv, "noise_uv": noise_uv, "lead_off": st.lead_off,
        "sync_rtt_ms": (st.clock.rtt_median_us() or 0) / 1000.0 if st.clock.rows else None,
        "disconnects": st.disconnects,
    }


def build_snapshot(phase, nodes, now_us, t_start_us, seconds, stopping):
    elapsed = (now_us - t_start_us) / 1e6 if t_start_us else 0.0
    return {"phase": phase, "elapsed_s": elapsed, "seconds": seconds, "stopping": stopping,
            "nodes": [node_row(st, now_us) for st in nodes]}
