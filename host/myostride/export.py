"""Export a recorded session to C3D (gait-lab tools) or CSV, on one common time grid.

Nodes sample on their own crystals, so each channel's samples sit at slightly different
session times. Both formats need one clock: every channel is placed on the grid
t = k / fs_hz (session seconds) by linear interpolation between its own neighbouring samples
(exact where the clocks coincide). Grid points inside a radio gap or outside a channel's
recording are NaN (an empty cell in CSV): nothing is filled in. Lead-off spans keep their
recorded values (they are listed in the analysis). The session itself is never modified.

C3D: analog channels in uV labelled like "R_TIBANT" (recognised by gait-lab software and our
own reader), a 3D frame rate fs/ratio (no markers), the first frame set so file time equals
session time, and foot strike / foot off events in EVENT:LABELS/CONTEXTS/TIMES.
"""

import csv
import math

import numpy as np

from .errors import UserError

C3D_MAX_FRAMES = 65535  # 16-bit frame counters in the C3D header
EXPORT_LABELS = {
    "tibialis_anterior": "TIBANT", "gastrocnemius_medialis": "GASMED", "gastrocnemius_lateralis": "GASLAT",
    "soleus": "SOL", "peroneus_longus": "PERLONG", "rectus_femoris": "RECFEM", "vastus_lateralis": "VASLAT",
    "vastus_medialis": "VASMED", "biceps_femoris": "BICFEM", "semitendinosus": "SEMITEN",
    "gluteus_medius": "GLUTMED", "gluteus_maximus": "GLUTMAX", "adductor_longus": "ADDLONG",
    "tensor_fasciae_latae": "TFL",
}
EVENT_NAMES = (("foot_strike_s", "Foot Strike"), ("foot_off_s", "Foot Off"))


def channel_label(channel):
    """C3D/CSV label: side letter + gait-lab abbreviation ("R_TIBANT"), or the node label if unmapped."""
    if channel.muscle in EXPORT_LABELS and channel.side in ("left", "right"):
        return "%s_%s" % (channel.side[0].upper(), EXPORT_LABELS[channel.muscle])
    return str(channel.label)


def common_grid(channels):
    """(k0, n, fs_hz): grid t = (k0 + i) / fs_hz, i < n, covering every channel's first to last sample."""
    if not channels:
        raise UserError("the session has no EMG channels to export; record with --map NODE=SIDE:MUSCLE")
    rates = sorted(set(float(ch.fs_hz) for ch in channels))
    if len(rates) > 1:
        raise UserError("channels are sampled at different rates (%s Hz); export needs one rate: re-record with "
                        "the same --rate on every node" % ", ".join("%g" % r for r in rates))
    fs = rates[0]
    starts = [float(ch.t_s[0]) for ch in channels if len(ch.t_s)]
    ends = [float(ch.t_s[-1]) for ch in channels if len(ch.t_s)]
    if not starts:
        raise UserError("every EMG channel of the session is empty; nothing to export")
    k0 = int(math.ceil(min(starts) * fs - 1e-6))
    k1 = int(math.floor(max(ends) * fs + 1e-6))
    return k0, k1 - k0 + 1, fs


def on_grid(channel, t_grid):
    """Channel values at grid times (linear interpolation), NaN in gaps and outside coverage."""
    t, uv = np.asarray(channel.t_s, dtype=np.float64), np.asarray(channel.uv, dtype=np.float64)
    out = np.full(t_grid.shape, np.nan)
    if len(t) == 0:
        return out
    inside = (t_grid >= t[0] - 1e-9) & (t_grid <= t[-1] + 1e-9)
    out[inside] = np.interp(t_grid[inside], t, uv)
    # A time jump longer than 1.5 sample periods is a gap: never interpolate across it.
    period = 1.0 / float(channel.fs_hz)
    jumps = np.flatnonzero(np.diff(t) > 1.5 * period)
    spans = [(t[j], t[j + 1]) for j in jumps]
    spans += [tuple(g) for g in (getattr(channel, "gaps", None) or [])]
    for a, b in spans:
        out[(t_grid > a + 1e-9) & (t_grid < b - 1e-9)] = np.nan
    return out


def grid_data(channels):
    """(t_grid_s, data (n_channels, n) float64 uV, labels)."""
    k0, n, fs = common_grid(channels)
    t_grid = (k0 + np.arange(n)) / fs
    data = np.vstack([on_grid(ch, t_grid) for ch in channels])
    labels = [channel_label(ch) for ch in channels]
    if len(set(labels)) != len(labels):
        labels = ["%s_%s" % (lab, ch.label) for lab, ch in zip(labels, channels)]
    return t_grid, data, labels


def write_csv(path, channels):
    """CSV: time_s column then one column per channel (uV); empty cells where no sample exists."""
    t_grid, data, labels = grid_data(channels)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["time_s"] + ["%s_uV" % lab for lab in labels])
        for i in range(len(t_grid)):
            w.writerow(["%.6f" % t_grid[i]] + ["" if math.isnan(v) else "%.3f" % v for v in data[:, i]])
    return path


def write_c3d(path, channels, events=None, point_rate_hz=100.0):
    """C3D with EMG analog channels (uV) and foot strike/off events; returns the path.

    events: {"left"|"right": {"foot_strike_s": [...], "foot_off_s": [...]}} in session seconds.
    """
    import ezc3d

    t_grid, data, labels = grid_data(channels)
    fs = float(channels[0].fs_hz)
    k0, n = int(round(t_grid[0] * fs)), data.shape[1]
    # C3D frames count from 0: samples before the session start (negative session time) shift the
    # file clock; the shift is stored in MYOSTRIDE:SESSION_TIME_OFFSET_S (file time + offset = session time).
    shift = min(k0, 0)
    k0 -= shift
    offset_s = shift / fs
    ratio = max(1, int(round(fs / point_rate_hz)))
    while math.ceil(n / ratio) > C3D_MAX_FRAMES or k0 // ratio > C3D_MAX_FRAMES - 1:
        ratio *= 2
        if ratio > 1000:
            raise UserError("session too long for one C3D file (%d samples at %g Hz); export CSV instead" % (n, fs))
    # The first frame is a whole 3D frame: start the grid on a frame boundary (leading NaN, nothing dropped)
    # and end it on one (trailing NaN).
    lead = k0 % ratio
    frames = int(math.ceil((n + lead) / ratio))
    padded = np.full((len(labels), frames * ratio), np.nan)
    padded[:, lead:lead + n] = data
    first_frame = (k0 - lead) // ratio

    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [fs / ratio]
    c3d["parameters"]["ANALOG"]["RATE"]["value"] = [fs]
    c3d["parameters"]["ANALOG"]["LABELS"]["value"] = labels
    c3d["parameters"]["ANALOG"]["DESCRIPTIONS"]["value"] = [
        ("EMG %s %s (%s)" % (ch.side, ch.muscle, ch.label)) if ch.muscle else "EMG %s" % ch.label for ch in channels]
    c3d["parameters"]["ANALOG"]["UNITS"]["value"] = ["uV"] * len(labels)
    c3d["data"]["analogs"] = padded[np.newaxis, :, :]
    c3d["data"]["points"] = np.zeros((4, 0, frames))
    c3d["header"]["points"]["first_frame"] = first_frame
    c3d.add_parameter("TRIAL", "ACTUAL_START_FIELD", [first_frame + 1, 0])
    c3d.add_parameter("TRIAL", "ACTUAL_END_FIELD", [first_frame + frames, 0])
    c3d.add_parameter("MANUFACTURER", "COMPANY", "myostride")
    c3d.add_parameter("MANUFACTURER", "SOFTWARE", "myostride export")
    c3d.add_parameter("MYOSTRIDE", "SESSION_TIME_OFFSET_S", [offset_s],
                      "session time of file time 0 (s): file time + offset = session time")
    for side in ("left", "right"):
        for key, name in EVENT_NAMES:
            for t in sorted((events or {}).get(side, {}).get(key) or []):
                t = t - offset_s
                if t < 0:
                    continue  # before the first recorded sample: not on the file's clock
                minutes = int(t // 60)
                c3d.add_event([minutes, float(t - 60 * minutes)], context=side.capitalize(), label=name)
    c3d.write(str(path))
    _check_written(path, len(labels), frames * ratio)
    return path


def _check_written(path, n_channels, n_samples):
    """Read the header back: a C3D writer that truncated frames would lose data silently."""
    import ezc3d

    back = ezc3d.c3d(str(path))
    analogs = back["header"]["analogs"]
    got = analogs["last_frame"] - analogs["first_frame"] + 1
    if analogs["size"] != n_channels or got != n_samples:
        raise UserError("C3D writer kept %d of %d samples (%d of %d channels) in %s; export CSV instead"
                        % (got, n_samples, analogs["size"], n_channels, path))
