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
from ..muscles import GENERIC_LABELS, LABEL_PATTERNS, MUSCLES, check_muscle, check_side


PADDING_MIN_S = 0.05  # a constant run this long at a channel's start or end is padding, not signal


class EmgInput:
    """One raw EMG channel: samples on the input's own clock, in microvolts when `unit` is "uV".

    `t_s` is increasing; a jump larger than 1.5 sample periods is a gap (never filled).
    `gaps` and `lead_off` are (start_s, end_s) spans the source declared. `unit` is "uV", or
    "counts"/"a.u." when the file's scale is not physical (units.py): the samples then stay in
    file units (the attribute keeps its name `uv`) and no microvolt limit is applied to them.
    `unit_decision` says how the unit was decided; `preprocessed` marks already rectified EMG.
    """

    def __init__(self, label, fs_hz, t_s, uv, side=None, muscle=None, gaps=(), lead_off=(), units_note="",
                 unit="uV", unit_decision=None, preprocessed=False, rail=None):
        self.label = label
        self.fs_hz = float(fs_hz)
        self.t_s = np.asarray(t_s, dtype=np.float64)
        self.uv = np.asarray(uv, dtype=np.float64)
        self.side = side
        self.muscle = muscle
        self.gaps = [tuple(map(float, g)) for g in gaps]
        self.lead_off = [tuple(map(float, g)) for g in lead_off]
        self.units_note = units_note
        self.unit = unit
        self.unit_decision = unit_decision or {"unit": unit, "how": "declared", "why": units_note}
        self.preprocessed = bool(preprocessed)
        self.rail = rail
        if self.t_s.shape != self.uv.shape:
            raise ValueError("t_s and uv differ in length for channel %r" % label)
        # Non-finite samples (NaN exports of dropped data) are not data: they become explicit gaps.
        finite = np.isfinite(self.uv) & np.isfinite(self.t_s)
        self.invalid_samples = int(len(finite) - np.count_nonzero(finite))
        if self.invalid_samples:
            self.t_s, self.uv = self.t_s[finite], self.uv[finite]
        self.padding_s = self._trim_padding()

    def _trim_padding(self):
        """Drop a constant run (> PADDING_MIN_S) at the start or end: exports pad a channel that
        started late or stopped early with zeros or its last value; no live converter holds one
        exact value that long. Left in, the pad would be taken for the quietest rest and wreck
        the detector's baseline. Returns (seconds dropped at the start, at the end)."""
        x = self.uv
        n = len(x)
        min_run = max(8, int(PADDING_MIN_S * self.fs_hz))
        if n < 4 * min_run or not np.any(x != x[0]):
            return (0.0, 0.0)
        changes = np.flatnonzero(x[1:] != x[:-1])
        lead = int(changes[0]) + 1
        trail = n - 1 - int(changes[-1])
        a = lead if lead >= min_run else 0
        b = n - trail if trail >= min_run else n
        if a == 0 and b == n:
            return (0.0, 0.0)
        out = (a / self.fs_hz, (n - b) / self.fs_hz)
        self.t_s, self.uv = self.t_s[a:b], self.uv[a:b]
        return out


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
        self.unmapped = []       # labels of EMG channels not mapped to a muscle (not analysed)
        self.unmapped_emg = []   # their EmgInputs: their quality is still reported
        self.map_lines = []      # a ready --map argument per unmapped channel
        self.events = None
        self.event_info = {}  # how stored events were read (convention, ignored labels); c3d_events.py
        self.derived_events = {}  # {"forceplate"|"markers": {"events", "warnings", ...}} from the file's data
        self.gyro = {}
        self.footswitch = {}
        self.warnings = []
        self.meta = {}


_SIDE_WORDS = (("LEFT", "left"), ("RIGHT", "right"), ("LT", "left"), ("RT", "right"), ("L", "left"), ("R", "right"))
_SIDE_LOOKUP = dict(_SIDE_WORDS)
_PATTERNS = dict(LABEL_PATTERNS)
# Labels cut at 16 or 32 characters ("Tibialis Anterio"): a prefix of a long name of at least this
# many letters is accepted when every name it starts agrees on the muscle.
_TRUNCATED_MIN = 8
_LONG_NAMES = sorted(k for k in _PATTERNS if len(k) >= 12)


def _match_rest(rest):
    """(muscle, key matched) for a side-free remainder: a whole pattern or a truncated long name."""
    if rest in _PATTERNS:
        return _PATTERNS[rest], rest
    if len(rest) >= _TRUNCATED_MIN:
        hits = set(_PATTERNS[k] for k in _LONG_NAMES if k.startswith(rest) and k != rest)
        if len(hits) == 1:
            return hits.pop(), rest
    return None


def _recognise_words(words):
    key = "".join(words)
    found = _match_rest(key)
    if found:
        return None, found[0], found[1]
    if len(words) >= 2:  # separate side word: "L TA", "TA_R", "Left Soleus", "R.Med.Hams"
        if words[0] in _SIDE_LOOKUP:
            found = _match_rest("".join(words[1:]))
            if found:
                return _SIDE_LOOKUP[words[0]], found[0], found[1]
        if words[-1] in _SIDE_LOOKUP:
            found = _match_rest("".join(words[:-1]))
            if found:
                return _SIDE_LOOKUP[words[-1]], found[0], found[1]
    # Glued side ("LTIBANT", "SOLEUSR"): patterns of 3+ letters; "RT"/"LT" also before 2-letter
    # codes ("RTTI", "LTGA", a Vicon/Motion Lab convention).
    for word, side in _SIDE_WORDS:
        for rest in (key[len(word):] if key.startswith(word) else None,
                     key[:-len(word)] if key.endswith(word) else None):
            if not rest:
                continue
            if len(rest) >= 3 or (len(rest) == 2 and word in ("LT", "RT") and key.startswith(word)):
                found = _match_rest(rest)
                if found and (len(rest) >= 3 or rest in _PATTERNS):
                    return side, found[0], found[1]
    return None


def recognise_label(label, with_key=False):
    """(side or None, muscle) for a label that is a known pattern, optionally with a side word.

    Accepts "TA", "L_TibAnt", "Right Soleus", "SOL_R", "LGASMED", "Voltage.R_TibAnt" (a leading
    vendor word dropped), "RTTI", "R.Med.Hams", truncated long names ("Tibialis Anterio").
    Short patterns only match the whole remaining label, so "Sensor 1.EMG1" or "TAP" match
    nothing. Returns None if unknown; with_key, (side, muscle, matched pattern).
    """
    words = [w for w in re.split(r"[^A-Za-z0-9]+", label.upper()) if w]
    for start in range(len(words)):
        if start and words[start - 1] in _SIDE_LOOKUP:
            break  # never drop a side word
        found = _recognise_words(words[start:])
        if found:
            return found if with_key else found[:2]
    return None


def guess_side(label):
    """"left"/"right" when a label carries a side word (for the --map line suggested), else None."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", label.upper()) if w]
    for w in words:
        if w in ("LEFT", "L", "LT"):
            return "left"
        if w in ("RIGHT", "R", "RT"):
            return "right"
    return None


def read_map_file(path):
    """["LABEL=SIDE:MUSCLE", ...] from a pyCGM2-style emg.settings YAML (CHANNELS: {label:
    {Muscle, Context, NormalActivity}}) or a CSV (label,side,muscle); UserError naming the problem."""
    import os
    if not os.path.isfile(path):
        raise UserError("no such mapping file: %s; give a pyCGM2 emg.settings (YAML) or a CSV label,side,muscle" % path)
    text = open(path, encoding="utf-8", errors="replace").read()
    items = []
    if path.lower().endswith(".csv"):
        import csv
        for row in csv.reader(text.splitlines()):
            cells = [c.strip() for c in row]
            if len(cells) < 3 or not cells[0] or cells[0].lower() in ("label", "channel"):
                continue
            items.append("%s=%s:%s" % (cells[0], cells[1], _muscle_name(cells[2], path)))
        return items
    import yaml
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError("cannot read mapping file %s as YAML (%s)" % (path, str(exc).splitlines()[0]))
    chans = doc.get("CHANNELS") if isinstance(doc, dict) else None
    if not isinstance(chans, dict):
        raise UserError("mapping file %s has no CHANNELS section (pyCGM2 emg.settings: CHANNELS: {EMG1: {Muscle: ..., "
                        "Context: Left}})" % path)
    for label, entry in chans.items():
        if not isinstance(entry, dict):
            continue
        muscle, context = entry.get("Muscle"), entry.get("Context")
        if muscle in (None, "None", "") or context in (None, "None", ""):
            continue
        name = _muscle_name(str(muscle), path, fallback=entry.get("NormalActivity"))
        items.append("%s=%s:%s" % (label, context, name))
    return items


def _muscle_name(text, path, fallback=None):
    for candidate in (text, fallback):
        if candidate in (None, "None", ""):
            continue
        try:
            return check_muscle(str(candidate))
        except ValueError:
            found = recognise_label(str(candidate))
            if found:
                return found[1]
    raise UserError("mapping file %s: muscle %r is not one myostride knows; use one of: %s"
                    % (path, text, ", ".join(MUSCLES)))


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
                recording.unmapped_emg.append(ch)
                side = default_side or guess_side(ch.label) or "right"
                recording.map_lines.append("--map '%s=%s:MUSCLE'" % (ch.label.replace("'", "'\\''"), side))
                continue
            side, ch.muscle, key = recognise_label(ch.label, with_key=True)
            if key in GENERIC_LABELS:
                recording.warnings.append("channel %r: %s; map it with --map if the electrode was elsewhere"
                                          % (ch.label, GENERIC_LABELS[key]))
            ch.side = side or ch.side or default_side
            if ch.side is None:
                raise UserError("channel %r looks like %s but its side is unknown; add --side left|right or "
                                "--map '%s=right:%s'" % (ch.label, ch.muscle, ch.label, ch.muscle))
        kept.append(ch)
    recording.emg = kept
    if recording.unmapped:
        recording.warnings.append("%d EMG channel(s) not mapped to a muscle and not analysed: %s; map each with e.g. %s "
                                  "(MUSCLE one of %s)" % (len(recording.unmapped), ", ".join(recording.unmapped),
                                                           recording.map_lines[0], ", ".join(MUSCLES)))
    seen = {}
    for ch in kept:
        key = (ch.side, ch.muscle)
        if key in seen:
            recording.warnings.append("channels %r and %r are both mapped to %s %s" % (seen[key], ch.label, ch.side, ch.muscle))
        seen[key] = ch.label
    return recording


def split_contiguous(t_s, fs_hz):
    """Index ranges [(i0, i1), ...] of runs without a time jump (> 1.5 sample periods)."""
    if len(t_s) == 0:
        return []
    jumps = np.flatnonzero(np.diff(t_s) > 1.5 / fs_hz) + 1
    edges = np.concatenate(([0], jumps, [len(t_s)]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def implicit_gaps(t_s, fs_hz, runs=None):
    """(start_s, end_s) of every time jump in t_s: the samples the source never delivered.

    runs: split_contiguous(t_s, fs_hz), when the caller has it."""
    runs = split_contiguous(t_s, fs_hz) if runs is None else runs
    return [(float(t_s[b - 1]), float(t_s[b])) for (a, b) in runs[:-1]]
