"""Builders for analysis and clinical dicts to the contracts (ARCHITECTURE.md analysis JSON, clinical schema)."""

import copy
import json
import math
from pathlib import Path

from myostride.muscles import NORMAL_WINDOWS_PCT

EXAMPLE_CLINICAL = Path(__file__).resolve().parents[2] / "host" / "myostride" / "data" / "example_clinical.json"

DEFAULT_LAYOUT = (
    ("right", "tibialis_anterior"), ("right", "gastrocnemius_medialis"), ("right", "soleus"),
    ("right", "rectus_femoris"), ("right", "biceps_femoris"), ("right", "gluteus_medius"),
    ("left", "tibialis_anterior"), ("left", "gastrocnemius_medialis"), ("left", "soleus"),
    ("left", "rectus_femoris"), ("left", "biceps_femoris"), ("left", "gluteus_medius"),
)


def clinical(**changes):
    """The built-in example clinical file with top-level keys replaced (None deletes a key)."""
    data = json.loads(EXAMPLE_CLINICAL.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = copy.deepcopy(value)
    return data


def _envelope(windows, shift_pct=0.0):
    mean = []
    for i in range(101):
        v = 0.05
        for on, off in windows:
            centre, half = (on + off) / 2.0 + shift_pct, max((off - on) / 2.0, 2.0)
            v += math.exp(-((i - centre) / half) ** 2)
        mean.append(round(min(v, 1.0), 4))
    return mean


def analysis(layout=DEFAULT_LAYOUT, strides=8, unusable=(), shift=()):
    """An analysis dict to myostride.analysis/1 with one channel per (side, muscle).

    unusable: indices of channels whose quality fails; shift: indices activated 15 % late (flagged).
    """
    stride_s, stance = 1.1, 0.61
    events = {"source": "imu", "warnings": []}
    gait = {}
    for side, offset in (("left", 0.55), ("right", 0.0)):
        fs = [round(0.5 + offset + k * stride_s, 4) for k in range(strides + 1)]
        events[side] = {"foot_strike_s": fs, "foot_off_s": [round(t + stance * stride_s, 4) for t in fs[:-1]]}
        gait[side] = {"strides": strides, "stride_time_s": {"mean": stride_s, "sd": 0.03},
                      "stance_pct": {"mean": 61.0, "sd": 1.2}, "cadence_steps_per_min": round(120 / stride_s, 1)}
    channels = []
    for i, (side, muscle) in enumerate(layout):
        windows = [list(w) for w in NORMAL_WINDOWS_PCT[muscle]]
        late = 15.0 if i in shift else 0.0
        active = [[min(on + late, 100.0), min(off + late, 100.0)] for on, off in windows]
        cycles = []
        fs = events[side]["foot_strike_s"]
        for k in range(strides):
            t0, t1 = fs[k], fs[k + 1]
            excluded = "gap" if (k == 3 and i == 0) else None
            cycles.append({"start_s": t0, "end_s": t1, "excluded": excluded,
                           "active_pct": [list(a) for a in active],
                           "active_s": [[round(t0 + a * (t1 - t0) / 100, 4), round(t0 + b * (t1 - t0) / 100, 4)]
                                        for a, b in active]})
        ok = i not in unusable
        flags = [{"kind": "normal", "detail": "activity within normal windows"}] if not late else [
            {"kind": "prolonged", "detail": "active %.0f-%.0f %% beyond the normal window" % (windows[-1][1], active[-1][1])},
            {"kind": "out_of_phase", "detail": "onset 15 % late"}]
        used = sum(1 for c in cycles if not c["excluded"])
        channels.append({
            "label": "node%02d" % (i + 1), "muscle": muscle, "side": side, "fs_hz": 2000.0,
            "quality": {"usable": ok, "reasons": [] if ok else ["lead off for 40 % of the trial"],
                        "baseline_noise_uv": 2.1 + 0.1 * i, "powerline_ratio": 0.02, "clipping_pct": 0.0,
                        "motion_artifact_ratio": 0.05, "lost_samples": 226 if i == 0 else 0, "lead_off": not ok},
            "cycles": cycles,
            "envelope": {"normalisation": "peak", "mean": _envelope(active), "sd": [0.08] * 101},
            "activation_frequency": [1.0 if any(a <= p <= b for a, b in active) else 0.0 for p in range(101)],
            "normal_windows_pct": windows,
            "comparison": {"flags": flags},
            "strides_used": used, "strides_excluded": strides - used,
        })
    return {
        "schema": "myostride.analysis/1",
        "source": {"kind": "session", "path": "session", "time_origin_s": 0.0},
        "settings": {"bandpass_hz": [20, 450], "envelope_lowpass_hz": 6, "powerline": "spectral interpolation"},
        "events": events, "gait": gait, "channels": channels, "unmapped_channels": [], "warnings": [],
    }


def session_meta(n_nodes=12, self_test=True, board="myostride-s3"):
    return {"nodes": [{"node_id": i + 1, "board": board, "firmware_version": "0.1.0", "emg_hz": 2000,
                       "self_test": {"passed": self_test}} for i in range(n_nodes)],
            "duration_s": 10.0}
