"""Read a gait lab's C3D file (ezc3d): EMG analog channels, shank gyroscopes, stored events.

Times are put on the clock of the file's EVENT:TIMES: analog sample i of a trial whose
first video frame is F (0-based, at the POINT rate) is at F / point_rate + i / analog_rate.
"""

import os
import re
import struct

import numpy as np

from ..errors import UserError
from ..muscles import SHANK_MUSCLES
from .channels import EmgInput, GyroInput, Recording, recognise_label, scale_to_uv

MIN_EMG_HZ = 1000.0
_FOOT_STRIKE = ("foot strike", "heel strike", "initial contact", "foot contact")
_FOOT_OFF = ("foot off", "toe off", "final contact")


def _param(params, group, name, default=None):
    try:
        return params[group][name]["value"]
    except KeyError:
        return default


def _sensor_key(label):
    m = re.match(r"\s*(sensor\s*\d+)", label, re.I)
    return m.group(1).lower().replace(" ", "") if m else None


def _is_emg_label(label, description):
    text = (label + " " + description).upper()
    return "EMG" in text


def read_events(params):
    """{side: {"foot_strike_s": [...], "foot_off_s": [...]}} from EVENT:*, or None if absent."""
    labels = _param(params, "EVENT", "LABELS")
    times = _param(params, "EVENT", "TIMES")
    contexts = _param(params, "EVENT", "CONTEXTS")
    if labels is None or times is None or len(labels) == 0:
        return None
    times = np.asarray(times, dtype=np.float64)
    if times.ndim == 2 and times.shape[0] == 2:
        seconds = times[0] * 60.0 + times[1]  # row 0 minutes, row 1 seconds
    else:
        seconds = times.ravel()
    used = _param(params, "EVENT", "USED")
    n = len(labels)
    if used is not None and len(np.ravel(used)):
        n = min(n, int(np.ravel(used)[0]))
    events = {"left": {"foot_strike_s": [], "foot_off_s": []}, "right": {"foot_strike_s": [], "foot_off_s": []}}
    found = False
    for i in range(min(n, len(seconds))):
        name = str(labels[i]).strip().lower()
        ctx = str(contexts[i]).strip().lower() if contexts is not None and i < len(contexts) else ""
        side = "left" if ctx.startswith("l") else "right" if ctx.startswith("r") else None
        if side is None:
            continue
        if name in _FOOT_STRIKE:
            events[side]["foot_strike_s"].append(float(seconds[i]))
            found = True
        elif name in _FOOT_OFF:
            events[side]["foot_off_s"].append(float(seconds[i]))
            found = True
    if not found:
        return None
    for side in events.values():
        side["foot_strike_s"].sort()
        side["foot_off_s"].sort()
    return events


def _check_complete(path, c3d):
    """Refuse a file cut short: ezc3d reads what is there and quietly lowers its header's last
    frame, so compare with the frame range the file's own header promises (bytes 6-9)."""
    try:
        with open(path, "rb") as f:
            head = f.read(10)
        first, last = struct.unpack_from("<HH", head, 6)
    except (OSError, struct.error):
        return
    h = c3d["header"]["points"]
    if first - 1 != int(h["first_frame"]) or last < first:
        return  # another byte order or a >65535-frame file: the header words cannot be compared
    if last - 1 > int(h["last_frame"]):
        raise UserError("%s is truncated: its header promises frames %d-%d but the file ends at frame %d; "
                        "copy or export the trial again" % (path, first, last, int(h["last_frame"]) + 1))


def load_c3d(path, mapping=None, gyro_labels=None, units=None):
    """Recording from a C3D file. `mapping` is the parsed --map (used to know which channels are EMG).

    gyro_labels: {side: label prefix or exact label} naming a shank gyroscope per side.
    units: overrides the file's ANALOG:UNITS for EMG channels (labs often mislabel them).
    """
    import ezc3d

    units_override = units

    if not os.path.isfile(path):
        raise UserError("no such file: %s; give the path of a .c3d file, a .csv file or a session directory" % path)
    try:
        c3d = ezc3d.c3d(str(path))
    except Exception as exc:  # ezc3d raises RuntimeError/IOError with C++ text
        raise UserError("cannot read %s as C3D (%s); check that the file is a complete C3D export"
                        % (path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    _check_complete(path, c3d)
    params = c3d["parameters"]
    labels = [str(x) for x in _param(params, "ANALOG", "LABELS", [])]
    analogs = c3d["data"]["analogs"]
    if not labels or analogs.size == 0:
        raise UserError("%s has no analog channels, so no EMG; export the trial with its analog (EMG) data" % path)
    rate_hz = float(np.ravel(_param(params, "ANALOG", "RATE", [c3d["header"]["analogs"]["frame_rate"]]))[0])
    descriptions = [str(x) for x in _param(params, "ANALOG", "DESCRIPTIONS", [""] * len(labels))]
    descriptions += [""] * (len(labels) - len(descriptions))
    units = [str(x) for x in _param(params, "ANALOG", "UNITS", [""] * len(labels))]
    units += [""] * (len(labels) - len(units))
    data = analogs[0]  # (channels, samples); ezc3d applies SCALE, OFFSET and GEN_SCALE

    point_rate = float(c3d["header"]["points"]["frame_rate"] or 0.0)
    first_frame = int(c3d["header"]["points"]["first_frame"])
    if point_rate > 0:
        start_s = first_frame / point_rate
    else:
        start_s = int(c3d["header"]["analogs"]["first_frame"]) / rate_hz
    t_s = start_s + np.arange(data.shape[1]) / rate_hz

    rec = Recording("c3d", path, time_origin_s=start_s)
    rec.meta = {"analog_rate_hz": rate_hz, "point_rate_hz": point_rate, "first_frame": first_frame,
                "trial_start_s": start_s, "n_analog": len(labels)}
    mapping = mapping or {}
    flat = []
    for i, label in enumerate(labels):
        if not (label in mapping or _is_emg_label(label, descriptions[i]) or recognise_label(label)):
            continue
        x = data[i]
        if not np.any(x != x[0]):
            if label in mapping:
                rec.warnings.append("mapped channel %r is flat (all samples equal): sensor off or not recording" % label)
            else:
                flat.append(label)
                continue
        uv, note = scale_to_uv(x, units_override or units[i])
        if units_override:
            note += " (from --emg-units)"
        rec.emg.append(EmgInput(label, rate_hz, t_s, uv, units_note=note))
    if flat:
        rec.warnings.append("%d EMG channel(s) are flat (all samples equal) and were ignored: %s"
                            % (len(flat), ", ".join(flat)))
    if not rec.emg:
        raise UserError("%s has no EMG channels among its %d analog channels (none labelled EMG, none "
                        "recognised as a muscle); name them with --map LABEL=SIDE:MUSCLE" % (path, len(labels)))
    if rate_hz < MIN_EMG_HZ:
        raise UserError("%s samples its analog channels at %g Hz; surface EMG needs at least %g Hz "
                        "(re-export at the acquisition rate)" % (path, rate_hz, MIN_EMG_HZ))
    rec.events = read_events(params)
    rec.gyro = shank_gyros_from_sensors(labels, data, t_s, mapping)
    rec.gyro.update(_gyros(labels, data, t_s, gyro_labels or {}))
    rec.meta["gyro_candidates"] = sorted(set(_gyro_prefix(lab) for lab in labels if "GYRO" in lab.upper()))
    return rec


def _gyro_prefix(label):
    return label.split(".")[0] if "." in label else label


def _gyros(labels, data, t_s, gyro_labels):
    """{side: GyroInput} for the gyroscopes the user named (a channel, or a prefix naming its axes)."""
    out = {}
    for side, name in gyro_labels.items():
        if name in labels:
            idx = [labels.index(name)]
        else:
            idx = [i for i, lab in enumerate(labels) if lab.startswith(name) and "GYRO" in lab.upper()]
            if not idx:
                idx = [i for i, lab in enumerate(labels) if lab.startswith(name)]
        if not idx:
            raise UserError("--gyro %s=%r matches no analog channel; gyroscope channels look like %s"
                            % (side, name, ", ".join(sorted(set(_gyro_prefix(lab) for lab in labels
                                                                 if "GYRO" in lab.upper()))[:6]) or "(none)"))
        out[side] = GyroInput(", ".join(labels[i] for i in idx), t_s, data[idx].T)
    return out


def shank_gyros_from_sensors(labels, data, t_s, mapping):
    """{side: GyroInput} from the gyroscope of a sensor that also carries a mapped shank muscle.

    Wireless EMG sensors (Delsys Trigno, Cometa) put an IMU in each EMG sensor: the sensor on
    tibialis anterior or a calf muscle sits on the shank, which is what gait events need.
    """
    out = {}
    for label, (side, muscle) in sorted(mapping.items(), key=lambda kv: SHANK_MUSCLES.index(kv[1][1])
                                        if kv[1][1] in SHANK_MUSCLES else 99):
        if muscle not in SHANK_MUSCLES or side in out:
            continue
        key = _sensor_key(label)
        if key is None:
            continue
        idx = [i for i, lab in enumerate(labels) if "GYRO" in lab.upper() and _sensor_key(lab) == key]
        if idx and np.any(data[idx] != data[idx][:, :1]):
            out[side] = GyroInput(", ".join(labels[i] for i in idx), t_s, data[idx].T)
    return out
