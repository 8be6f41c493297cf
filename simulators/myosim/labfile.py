"""A simulated gait lab's C3D export: one walking trial as a lab would hand it over.

EMG analog channels named the way many labs name them ("Right Tibialis Anterior"), in volts with
ANALOG:UNITS "V", foot strike / foot off events with Left/Right contexts (Vicon's convention), a
first video frame that is not zero. For archive-scale tests and benchmarks (`myostride batch`),
where many distinct files are needed; the real lab files in ../shared/data remain the evidence.
"""

import numpy as np

from .emg import synthesize_trial
from .patient import GAIT_MUSCLES

POINT_RATE_HZ = 100.0


def channel_keys(channels):
    """The first `channels` (side, muscle) pairs, alternating sides muscle by muscle."""
    keys = [(side, m) for m in GAIT_MUSCLES for side in ("right", "left")]
    if not 1 <= channels <= len(keys):
        raise ValueError("channels must be 1-%d" % len(keys))
    return keys[:channels]


def write_trial_c3d(path, seconds=10.0, channels=8, seed=0, fs_hz=2000.0, condition="normal", first_frame=120,
                    with_events=True):
    """Write a C3D file of a simulated walking trial; returns its stored events (trial-clock seconds).

    with_events=False leaves the EVENT group out: a trial with no event source at all.
    """
    import ezc3d

    keys = channel_keys(channels)
    signals_uv, events, _ = synthesize_trial(condition, seconds, seed=seed, fs_hz=fs_hz, muscles=keys)
    per_frame = int(round(fs_hz / POINT_RATE_HZ))
    frames = int(len(signals_uv[keys[0]]) // per_frame)
    n = frames * per_frame
    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [POINT_RATE_HZ]
    c3d["parameters"]["ANALOG"]["RATE"]["value"] = [float(fs_hz)]
    labels = ["%s %s" % (side.title(), m.replace("_", " ").title()) for side, m in keys]
    c3d["parameters"]["ANALOG"]["LABELS"]["value"] = labels
    analogs = np.stack([signals_uv[k][:n] * 1e-6 for k in keys])  # volts
    c3d["data"]["analogs"] = analogs.reshape(1, len(keys), n)
    c3d["data"]["points"] = np.zeros((4, 0, frames))
    c3d.add_parameter("ANALOG", "UNITS", ["V"] * len(keys))
    c3d["header"]["points"]["first_frame"] = first_frame
    c3d["header"]["points"]["last_frame"] = first_frame + frames - 1
    offset_s = first_frame / POINT_RATE_HZ
    ev_labels, ev_contexts, ev_times = [], [], []
    for side in ("left", "right"):
        for kind, label in (("foot_strike_s", "Foot Strike"), ("foot_off_s", "Foot Off")):
            for t in events[side][kind]:
                if t < n / fs_hz:
                    ev_labels.append(label)
                    ev_contexts.append(side.title())
                    ev_times.append(t + offset_s)
    if with_events:
        c3d.add_parameter("EVENT", "USED", [len(ev_labels)])
        c3d.add_parameter("EVENT", "LABELS", ev_labels)
        c3d.add_parameter("EVENT", "CONTEXTS", ev_contexts)
        c3d.add_parameter("EVENT", "TIMES", np.vstack([np.zeros(len(ev_times)), ev_times]).tolist())
    c3d.write(str(path))
    return {side: {k: [t + offset_s for t in v if t < n / fs_hz] for k, v in events[side].items()}
            for side in events}
