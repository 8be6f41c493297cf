"""Read EMG and gait events exported as CSV by a lab (format in docs/analysis.md).

EMG CSV: a header row, a time column (`time`, `time_s` or `t`, seconds) and one column per
channel (values in microvolts unless told otherwise). Events CSV, either long form
(`side,event,time_s` with event foot_strike|foot_off) or wide form (a foot-strike column and a
foot-off column, e.g. `touchdown_s,liftoff_s`, with an optional `side` column).
"""

import csv
import os

import numpy as np

from ..errors import UserError
from . import quality, units as units_mod
from .channels import EmgInput, Recording

TIME_COLUMNS = ("time", "time_s", "t", "t_s", "seconds")
STRIKE_COLUMNS = ("foot_strike_s", "foot_strike", "touchdown_s", "touchdown", "heel_strike_s", "fs_s", "ic_s")
OFF_COLUMNS = ("foot_off_s", "foot_off", "liftoff_s", "liftoff", "toe_off_s", "fo_s", "tc_s")


def _header(path):
    with open(path, newline="") as fh:
        row = next(csv.reader(fh), None)
    if not row:
        raise UserError("%s is empty; expected a header row with a time column and channel columns" % path)
    return [c.strip() for c in row]


def load_emg_csv(path, units=None):
    """Recording (kind "csv") with one EmgInput per non-time column.

    units: --emg-units (used as given); without it the numbers are taken as microvolts when
    plausible, else the unit is inferred like a C3D's (units.py) and said in a warning."""
    if not os.path.isfile(path):
        raise UserError("no such file: %s; give the path of a .c3d file, a .csv file or a session directory" % path)
    cols = _header(path)
    lower = [c.lower() for c in cols]
    tcol = next((lower.index(n) for n in TIME_COLUMNS if n in lower), None)
    if tcol is None:
        raise UserError("%s has no time column; name one of its columns %s (seconds)" % (path, " or ".join(TIME_COLUMNS[:3])))
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as exc:
        raise UserError("%s has a non-numeric value (%s); EMG CSV cells must be numbers" % (path, str(exc).splitlines()[0]))
    if data.shape[0] < 2 or data.shape[1] != len(cols):
        raise UserError("%s: expected %d numeric columns per row as in its header" % (path, len(cols)))
    t_s = data[:, tcol]
    dt = np.diff(t_s)
    if np.any(dt <= 0):
        raise UserError("%s: the time column is not strictly increasing (row %d); sort or fix the export"
                        % (path, int(np.flatnonzero(dt <= 0)[0]) + 2))
    fs_hz = 1.0 / float(np.median(dt))
    rec = Recording("csv", path, time_origin_s=float(t_s[0]))
    rec.meta = {"rate_hz": fs_hz}
    cols_idx = [j for j in range(len(cols)) if j != tcol]
    if not cols_idx:
        raise UserError("%s has a time column but no channel columns" % path)
    if units and units_mod.unit_factor(units) is None:
        raise UserError("unknown --emg-units %r; use V, mV or uV" % units)
    finite = [data[:, j][np.isfinite(data[:, j])] for j in cols_idx]
    pre = [quality.is_preprocessed(x) for x in finite]
    decisions = units_mod.decide(finite, ["uV"] * len(cols_idx), fs_hz, override=units, preprocessed=pre)
    for j, p, dec in zip(cols_idx, pre, decisions):
        if not units:
            dec = dict(dec, why=dec["why"].replace("file says uV", "CSV taken as uV"))
        factor = dec["factor_to_uv"]
        values = data[:, j] * factor if factor is not None else data[:, j]
        rec.emg.append(EmgInput(cols[j], fs_hz, t_s, values, units_note=dec["why"],
                                unit="uV" if factor is not None else dec["unit"], unit_decision=dec, preprocessed=p))
        if dec["how"] == "inferred":
            rec.warnings.append("EMG units (%s): %s" % (cols[j], dec["why"]))
    return rec


def sibling_events_csv(path):
    """The events file a lab usually writes next to its EMG CSV, if one exists."""
    stem, _ = os.path.splitext(path)
    for suffix in ("_raw_emg", "_emg", ""):
        if suffix and not stem.endswith(suffix):
            continue
        base = stem[: len(stem) - len(suffix)] if suffix else stem
        for cand in ("_cycles.csv", "_events.csv"):
            if os.path.isfile(base + cand):
                return base + cand
    return None


def load_events_csv(path, default_side=None):
    """{side: {"foot_strike_s": [...], "foot_off_s": [...]}} from an events CSV."""
    if not os.path.isfile(path):
        raise UserError("no such events file: %s" % path)
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh)]
    if not rows:
        raise UserError("%s has no event rows" % path)
    keys = {k.strip().lower(): k for k in rows[0].keys() if k}
    events = {"left": {"foot_strike_s": [], "foot_off_s": []}, "right": {"foot_strike_s": [], "foot_off_s": []}}

    def side_of(row, n):
        raw = (row.get(keys["side"], "") if "side" in keys else "").strip().lower() or default_side
        if raw in ("l", "left"):
            return "left"
        if raw in ("r", "right"):
            return "right"
        raise UserError("%s row %d: side %r is not left or right; add a side column or pass --side left|right"
                        % (path, n, raw))

    def number(text, n):
        try:
            return float(text)
        except (TypeError, ValueError):
            raise UserError("%s row %d: %r is not a time in seconds" % (path, n, text))

    if "event" in keys and any(k in keys for k in ("time_s", "time")):
        tkey = keys.get("time_s", keys.get("time"))
        for n, row in enumerate(rows, 2):
            kind = row[keys["event"]].strip().lower().replace(" ", "_")
            name = {"foot_strike": "foot_strike_s", "heel_strike": "foot_strike_s", "touchdown": "foot_strike_s",
                    "foot_off": "foot_off_s", "toe_off": "foot_off_s", "liftoff": "foot_off_s"}.get(kind)
            if name is None:
                raise UserError("%s row %d: event %r is neither foot_strike nor foot_off" % (path, n, kind))
            events[side_of(row, n)][name].append(number(row[tkey], n))
    else:
        fs_key = next((keys[k] for k in STRIKE_COLUMNS if k in keys), None)
        fo_key = next((keys[k] for k in OFF_COLUMNS if k in keys), None)
        if fs_key is None:
            raise UserError("%s: no foot-strike column; name it foot_strike_s (or touchdown_s) and the foot-off "
                            "column foot_off_s (or liftoff_s)" % path)
        for n, row in enumerate(rows, 2):
            side = side_of(row, n)
            if row.get(fs_key, "").strip():
                events[side]["foot_strike_s"].append(number(row[fs_key], n))
            if fo_key and row.get(fo_key, "").strip():
                events[side]["foot_off_s"].append(number(row[fo_key], n))
    for side in events.values():
        side["foot_strike_s"].sort()
        side["foot_off_s"].sort()
    return events
