"""Read a gait lab's C3D file (ezc3d): EMG analog channels, shank gyroscopes, stored events.

Times are put on the clock of the file's EVENT:TIMES: analog sample i of a trial whose
first video frame is F (0-based, at the POINT rate) is at F / point_rate + i / analog_rate.
"""

import os
import re

import numpy as np

from ..errors import UserError
from ..muscles import SHANK_MUSCLES
from . import quality, units as units_mod
from .channels import EmgInput, GyroInput, Recording, recognise_label


def _param(params, group, name, default=None):
    try:
        return params[group][name]["value"]
    except KeyError:
        return default


def _sensor_key(label):
    m = re.match(r"\s*(sensor\s*\d+)", label, re.I)
    return m.group(1).lower().replace(" ", "") if m else None


_NOT_EMG_WORDS = ("FOOT", "SWITCH", "FORCE", "MOMENT", "ACC", "GYRO", "MAG", "PIN", "TRIG", "SYNC", "ANGLE",
                  "POWER", "COP", "PLATE", "MARKER", "IMU", "QUAT")


def _is_emg_label(label, description):
    text = (label + " " + description).upper()
    return "EMG" in text


def _sided_name(label):
    """"Right Sartorius", "L_Piriformis": a side word and a name, not a known non-EMG signal.
    Such channels beside recognised EMG channels in the same unit are EMG the vocabulary lacks:
    they are listed as unmapped (with a --map line), never silently dropped."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", label.upper()) if w]
    if len(words) < 2 or words[0] not in ("LEFT", "RIGHT", "L", "R"):
        return False
    rest = "".join(words[1:])
    return rest.isalpha() and len(rest) >= 4 and not any(w in rest for w in _NOT_EMG_WORDS)


def read_events(params, header=None):
    """{side: {"foot_strike_s": [...], "foot_off_s": [...]}} from the EVENT group (or header), or None.

    Every common vocabulary is read (c3d_events.py); load_c3d keeps the details (convention,
    ignored labels) in Recording.event_info.
    """
    from .c3d_events import read_stored_events

    return read_stored_events(params, header)["events"]


def load_c3d(path, mapping=None, gyro_labels=None, units=None):
    """Recording from a C3D file. `mapping` is the parsed --map (used to know which channels are EMG).

    gyro_labels: {side: label prefix or exact label} naming a shank gyroscope per side.
    units: overrides the file's ANALOG:UNITS for EMG channels (labs often mislabel them).
    """
    import ezc3d

    units_override = units

    if not os.path.isfile(path):
        raise UserError("no such file: %s; give the path of a .c3d file, a .csv file or a session directory" % path)
    check_complete(path)
    try:
        c3d = ezc3d.c3d(str(path))
    except Exception as exc:  # ezc3d raises RuntimeError/IOError with C++ text
        raise UserError("cannot read %s as C3D (%s); check that the file is a complete C3D export"
                        % (path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
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
    flat, picked = [], []
    emg_units = set(units[i] for i, lab in enumerate(labels) if recognise_label(lab) or _is_emg_label(lab, descriptions[i]))
    for i, label in enumerate(labels):
        if not (label in mapping or _is_emg_label(label, descriptions[i]) or recognise_label(label)
                or (_sided_name(label) and units[i] in emg_units)):
            continue
        x = data[i]
        if not np.any(x != x[0]):
            if label in mapping:
                rec.warnings.append("mapped channel %r is flat (all samples equal): sensor off or not recording" % label)
            else:
                flat.append(label)
                continue
        picked.append(i)
    if flat:
        rec.warnings.append("%d EMG channel(s) are flat (all samples equal) and were ignored: %s"
                            % (len(flat), ", ".join(flat)))
    if not picked:
        raise UserError("%s has no EMG channels among its %d analog channels (none labelled EMG, none "
                        "recognised as a muscle); name them with --map LABEL=SIDE:MUSCLE" % (path, len(labels)))
    pre = [quality.is_preprocessed(data[i]) for i in picked]
    decisions = units_mod.decide([data[i] for i in picked], [units[i] for i in picked], rate_hz,
                                 override=units_override, preprocessed=pre)
    for i, p, dec in zip(picked, pre, decisions):
        x = data[i]
        counts = dec["unit"] == "counts"
        factor = dec["factor_to_uv"]
        values = x * factor if factor is not None else np.array(x, dtype=np.float64)
        rec.emg.append(EmgInput(labels[i], rate_hz, t_s, values, units_note=dec["why"],
                                unit="uV" if factor is not None else dec["unit"], unit_decision=dec,
                                preprocessed=p, rail=units_mod.rails(x) if counts else None))
    _unit_warnings(rec, decisions, pre)
    from .c3d_events import attach_c3d_events
    attach_c3d_events(rec, c3d, start_s, rate_hz)
    rec.gyro = shank_gyros_from_sensors(labels, data, t_s, mapping)
    rec.gyro.update(_gyros(labels, data, t_s, gyro_labels or {}))
    rec.meta["gyro_candidates"] = sorted(set(_gyro_prefix(lab) for lab in labels if "GYRO" in lab.upper()))
    return rec


def _unit_warnings(rec, decisions, pre):
    """One warning per distinct unit decision that was not simply the file's word, and per
    pre-processed group: the user must know what the amplitudes mean."""
    seen = set()
    for dec in decisions:
        if dec["how"] == "inferred" and dec["why"] not in seen:
            seen.add(dec["why"])
            labels = [ch.label for ch in rec.emg if ch.unit_decision is dec or ch.unit_decision["why"] == dec["why"]]
            rec.warnings.append("EMG units (%s): %s" % (", ".join(labels[:4]) + (", ..." if len(labels) > 4 else ""),
                                                         dec["why"]))
    if any(pre):
        rec.warnings.append("%d EMG channel(s) hold already rectified/smoothed EMG (no negative samples): their "
                            "envelope is analysed as recorded, without band-pass: %s"
                            % (sum(pre), ", ".join(ch.label for ch in rec.emg if ch.preprocessed)))


def check_complete(path, c3d=None):
    """UserError if the file is shorter than its header says (a truncated copy or export).

    ezc3d reads a truncated file without complaint, returning fewer frames (and rewriting the
    frame count it reports), so the analysis would silently cover part of the trial. The file's
    own 512-byte header is read instead: expected size = (data start block - 1) x 512 + frames x
    (points x 4 + analog samples per frame) x bytes per value (4 for float files, whose scale
    factor is negative; 2 for integer files). Byte order from the processor type in the
    parameter section (84 Intel, 85 DEC: little-endian; 86 MIPS: big-endian).
    """
    import struct
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(512)
        if len(head) < 512:
            raise UserError("cannot read %s as C3D: %d bytes, shorter than a C3D header (truncated or not a C3D "
                            "file); check that the file is a complete C3D export" % (path, len(head)))
        if head[1] != 0x50:
            return  # not a C3D signature: let ezc3d say what it can't read
        param_block = head[0]
        fh.seek(max(param_block - 1, 0) * 512)
        pblock = fh.read(4)
    proc = pblock[3] if len(pblock) == 4 else 84
    big = proc == 86
    words = struct.unpack((">" if big else "<") + "9H", head[:18])
    n_points, n_analog, first, last, data_start = words[1], words[2], words[3], words[4], words[8]
    sign_byte = head[12] if big else head[13] if proc == 85 else head[15]
    value_bytes = 4 if sign_byte & 0x80 else 2
    if last == 0xFFFF or last < first or data_start == 0:
        return  # long files keep the frame count elsewhere; nothing cheap to check against
    frames = last - first + 1
    expected = (data_start - 1) * 512 + frames * (n_points * 4 + n_analog) * value_bytes
    if size < expected:
        raise UserError("%s is truncated: %d bytes where its header describes %d frames (%d bytes); the copy or "
                        "export was cut short, re-export or copy the file again" % (path, size, frames, expected))


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
