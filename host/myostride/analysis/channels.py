"""What the analysis reads, whatever the source: EMG channels, gait signals, stored events.

Every input reader (C3D, CSV, session) produces a `Recording`; the rest of the
pipeline never looks at file formats. Channel-to-muscle mapping lives here too:
an explicit `--map LABEL=SIDE:MUSCLE` wins, otherwise only whole-label matches of
common gait-lab patterns are accepted, and anything else is reported as unmapped
rather than guessed.
"""

import re

import numpy as np

from ..errors import UserError
from ..muscles import LABEL_PATTERNS, check_muscle, check_side

UNIT_TO_UV = {"v": 1e6, "mv": 1e3, "uv": 1.0, "\u00b5v": 1.0, "\u03bcv": 1.0, "microv": 1.0, "nv": 1e-3}

# A surface-EMG signal whose median absolute value (after band-pass) is outside this range in
# microvolts was almost certainly scaled with the wrong unit.
PLAUSIBLE_MEDIAN_ABS_UV = (0.2, 5000.0)


class EmgInput:
    """One raw EMG channel: samples in microvolts on the input's own clock.

    `t_s` is increasing; a jump larger than 1.5 sample periods is a gap (never filled).
    `gaps` and `lead_off` are (start_s, end_s) spans the source declared.
    """

    def __init__(self, label, fs_hz, t_s, uv, side=None, muscle=None, gaps=(), lead_off=(), units_note=""):
        self.label = label
        self.fs_hz = float(fs_hz)
        self.t_s = np.asarray(t_s, dtype=np.float64)
        self.uv = np.asarray(uv, dtype=np.float64)
        self.side = side
        self.muscle = muscle
        self.gaps = [tuple(map(float, g)) for g in gaps]
        self.lead_off = [tuple(map(float, g)) for g in lead_off]
        self.units_note = units_note
        if self.t_s.shape != self.uv.shape:
            raise ValueError("t_s and uv differ in length for channel %r" % label)
        # Non-finite samples (NaN exports of dropped data) are not data: they become explicit gaps.
        finite = np.isfinite(self.uv) & np.isfinite(self.t_s)
        self.invalid_samples = int(len(finite) - np.count_nonzero(finite))
        if self.invalid_samples:
            self.t_s, self.uv = self.t_s[finite], self.uv[finite]


class GyroInput:
    """A shank gyroscope for one side: samples (n, k) in any unit; the sagittal axis is chosen later."""

    def __init__(self, label, t_s, gyro, axis=None, sign=None):
        self.label = label
        self.t_s = np.asarray(t_s, dtype=np.float64)
        self.gyro = np.asarray(gyro, dtype=np.float64)
        if self.gyro.ndim == 1:
            self.gyro = self.gyro[:, None]
        self.axis = axis
        self.sign = sign


class Recording:
    """Everything the pipeline needs from one input.

    events: {"left"|"right": {"foot_strike_s": [...], "foot_off_s": [...]}} or None when the
    input stores none. gyro: {side: GyroInput}. footswitch: {side: [(t_s, contact_bool), ...]}.
    """

    def __init__(self, kind, path, time_origin_s=0.0):
        self.kind = kind
        self.path = str(path)
        self.time_origin_s = float(time_origin_s)
        self.emg = []
        self.unmapped = []
        self.events = None
        self.gyro = {}
        self.footswitch = {}
        self.warnings = []
        self.meta = {}


_SIDE_WORDS = (("LEFT", "left"), ("RIGHT", "right"), ("L", "left"), ("R", "right"))
_PATTERNS = dict(LABEL_PATTERNS)


def recognise_label(label):
    """(side or None, muscle) for a label that is a known pattern, optionally with a side word.

    Accepts "TA", "L_TibAnt", "Right Soleus", "SOL_R", "LGASMED". Short patterns only match
    the whole remaining label, so "Sensor 1.EMG1" or "TAP" match nothing. Returns None if unknown.
    """
    words = [w for w in re.split(r"[^A-Za-z0-9]+", label.upper()) if w]
    key = "".join(words)
    if key in _PATTERNS:
        return None, _PATTERNS[key]
    # Separate side word: "L TA", "TA_R", "Left Soleus".
    if len(words) >= 2:
        for word, side in _SIDE_WORDS:
            if words[0] == word and "".join(words[1:]) in _PATTERNS:
                return side, _PATTERNS["".join(words[1:])]
            if words[-1] == word and "".join(words[:-1]) in _PATTERNS:
                return side, _PATTERNS["".join(words[:-1])]
    # Glued side prefix/suffix ("LTIBANT", "SOLEUSR"): only for patterns of 3+ letters.
    for word, side in _SIDE_WORDS:
        for rest in (key[len(word):] if key.startswith(word) else None,
                     key[:-len(word)] if key.endswith(word) else None):
            if rest and len(rest) >= 3 and rest in _PATTERNS:
                return side, _PATTERNS[rest]
    return None


def parse_map(items):
    """{label: (side, muscle)} from ["LABEL=SIDE:MUSCLE", ...]; UserError naming the bad item."""
    mapping = {}
    for item in items or ():
        if "=" not in item or ":" not in item.split("=", 1)[1]:
            raise UserError("bad --map %r; write it as LABEL=SIDE:MUSCLE, e.g. 'Sensor 1.IM EMG1=right:soleus'" % item)
        label, rhs = item.rsplit("=", 1)
        side, muscle = rhs.split(":", 1)
        try:
            mapping[label.strip()] = (check_side(side), check_muscle(muscle))
        except ValueError as exc:
            raise UserError("bad --map %r: %s" % (item, exc))
    return mapping


def assign_muscles(recording, mapping, default_side=None):
    """Give each EMG channel its side and muscle; move unknown ones to recording.unmapped.

    Order: explicit map > what the source already says (session) > label recognition.
    A recognised label without a side takes `default_side`, or raises UserError asking for it.
    """
    labels = set(ch.label for ch in recording.emg)
    missing = [lab for lab in mapping if lab not in labels]
    if missing:
        raise UserError("--map names channel(s) not in the input: %s; EMG channels are: %s"
                        % (", ".join(repr(m) for m in missing), ", ".join(repr(lab) for lab in sorted(labels))))
    kept = []
    for ch in recording.emg:
        if ch.label in mapping:
            ch.side, ch.muscle = mapping[ch.label]
        elif ch.side and ch.muscle:
            pass
        else:
            found = recognise_label(ch.label)
            if found is None:
                recording.unmapped.append(ch.label)
                continue
            side, ch.muscle = found
            ch.side = side or ch.side or default_side
            if ch.side is None:
                raise UserError("channel %r looks like %s but its side is unknown; add --side left|right or "
                                "--map '%s=right:%s'" % (ch.label, ch.muscle, ch.label, ch.muscle))
        kept.append(ch)
    recording.emg = kept
    seen = {}
    for ch in kept:
        key = (ch.side, ch.muscle)
        if key in seen:
            recording.warnings.append("channels %r and %r are both mapped to %s %s" % (seen[key], ch.label, ch.side, ch.muscle))
        seen[key] = ch.label
    return recording


def scale_to_uv(values, unit_label):
    """(values in uV, note). Unknown unit labels keep the numbers and say so."""
    key = (unit_label or "").strip().lower().replace("micro", "u")
    factor = UNIT_TO_UV.get(key)
    if factor is None:
        return np.asarray(values, dtype=np.float64), "unit %r not recognised; values taken as microvolts" % unit_label
    return np.asarray(values, dtype=np.float64) * factor, "unit %r" % unit_label


def split_contiguous(t_s, fs_hz):
    """Index ranges [(i0, i1), ...] of runs without a time jump (> 1.5 sample periods)."""
    if len(t_s) == 0:
        return []
    jumps = np.flatnonzero(np.diff(t_s) > 1.5 / fs_hz) + 1
    edges = np.concatenate(([0], jumps, [len(t_s)]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def implicit_gaps(t_s, fs_hz):
    """(start_s, end_s) of every time jump in t_s: the samples the source never delivered."""
    runs = split_contiguous(t_s, fs_hz)
    return [(float(t_s[b - 1]), float(t_s[b])) for (a, b) in runs[:-1]]
