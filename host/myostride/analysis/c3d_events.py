"""Gait events stored in a C3D file, whatever vocabulary the lab's software wrote them in.

Two places hold events: the EVENT parameter group (LABELS, CONTEXTS, TIMES, USED) and the
header's event section (up to 18 four-character labels with times). Vendors name events in
several ways, all read here:

* Vicon Nexus: "Foot Strike" / "Foot Off" with the side in EVENT:CONTEXTS ("Left"/"Right");
* the side inside the label: "LHS RHS LTO RTO", "LFS RFS LFO RFO", "Left Foot Strike",
  "Right Foot Off", "L_HS", Visual3D "RON ROFF LON LOFF";
* a kind code whose side is only in the context, or nowhere ("eFS", "mFO", "FS", "Heel Strike"):
  the side then comes from EVENT:CONTEXTS, else it is unknown and the event is reported, not used;
* generic or unknown labels ("Event", "General", "Max knee flexion"): reported, never guessed.

EVENT:TIMES is (minutes, seconds) per event: ezc3d returns it as 2 x n, or flat as n seconds
or 2n interleaved minutes/seconds. Times are on the trial clock (frame f, 1-based, is at
(f - 1) / POINT:RATE), which is the clock `inputs_c3d` puts the analog samples on; events that
all fall before the first frame but inside the record's length were written relative to the
record's start and are shifted, with a warning.
"""

import re

import numpy as np

SIDES = ("left", "right")

# Words for each kind of event, after lower-casing and collapsing separators to one space.
_STRIKE_WORDS = ("foot strike", "heel strike", "initial contact", "foot contact", "heel contact",
                 "touch down", "touchdown", "contact", "strike", "heelstrike", "footstrike", "on")
_OFF_WORDS = ("foot off", "toe off", "final contact", "lift off", "liftoff", "toeoff", "footoff",
              "terminal contact", "off")
# Two- or three-letter codes (case-insensitive) for each kind.
_STRIKE_CODES = ("hs", "fs", "ic", "td", "fc", "on")
_OFF_CODES = ("to", "fo", "tc", "lo", "off")

_SIDE_WORDS = {"left": "left", "l": "left", "right": "right", "r": "right", "lt": "left", "rt": "right",
               "sinistra": "left", "destra": "right", "links": "left", "rechts": "right",
               "gauche": "left", "droite": "right", "izquierda": "left", "derecha": "right"}


def _norm(text):
    return re.sub(r"[\s_\-.:/]+", " ", str(text).strip().lower()).strip()


def _kind_of_words(words):
    if words in _STRIKE_WORDS or words in _STRIKE_CODES:
        return "foot_strike"
    if words in _OFF_WORDS or words in _OFF_CODES:
        return "foot_off"
    return None


def classify_label(label):
    """(kind or None, side or None, form) for one event label.

    form names how the label encodes its meaning, for the `convention` in the JSON:
    "words" (Foot Strike), "side+words" (Left Foot Strike), "side+code" (LHS, RON, L_FS),
    "code" (FS, eFS), or "unknown".
    """
    raw = str(label).strip()
    text = _norm(raw)
    if not text:
        return None, None, "unknown"
    kind = _kind_of_words(text)
    if kind and (len(text) > 3 or text in ("on", "off")):
        return kind, None, "words"
    words = text.split(" ")
    # Side as a separate leading or trailing word: "Left Foot Strike", "L HS", "Foot Off Right", "HS_R".
    for side_word, rest in ((words[0], words[1:]), (words[-1], words[:-1])):
        side = _SIDE_WORDS.get(side_word)
        if side and rest:
            kind = _kind_of_words(" ".join(rest))
            if kind:
                return kind, side, ("side+words" if len(" ".join(rest)) > 3 else "side+code")
    compact = text.replace(" ", "")
    # Side glued to a code: "LHS", "RFO", "RON", "LOFF", "LeftFS" (also "RightFootStrike").
    for prefix, side in (("left", "left"), ("right", "right"), ("l", "left"), ("r", "right")):
        if compact.startswith(prefix) and len(compact) > len(prefix):
            kind = _kind_of_words(compact[len(prefix):])
            if kind and (len(compact) - len(prefix) <= 3 or compact[len(prefix):] in ("footstrike", "footoff",
                                                                                     "heelstrike", "toeoff")):
                return kind, side, "side+code"
    # A code with no side: "FS", "HS", or a one-letter non-side qualifier before an upper-case
    # code ("eFS", "mFO": the side must come from the context).
    if len(compact) <= 3 and _kind_of_words(compact) and compact not in ("on", "off"):
        return _kind_of_words(compact), None, "code"
    m = re.fullmatch(r"[a-z]([A-Z]{2,3})", raw)
    if m and raw[0] not in "lr" and _kind_of_words(m.group(1).lower()):
        return _kind_of_words(m.group(1).lower()), None, "code"
    return None, None, "unknown"


def side_of_context(context):
    """'left', 'right' or None (for "General", "", or anything else) from an EVENT:CONTEXTS entry."""
    return _SIDE_WORDS.get(_norm(context))


def event_seconds(times, n_labels):
    """EVENT:TIMES as n seconds, however ezc3d shaped it (2 x n minutes/seconds, flat n, flat 2n)."""
    t = np.asarray(times, dtype=np.float64)
    if t.ndim == 2:
        if t.shape[0] == 2:
            return t[0] * 60.0 + t[1]
        if t.shape[1] == 2 and t.shape[0] != 2:
            return t[:, 0] * 60.0 + t[:, 1]
        return t.ravel()
    t = t.ravel()
    if n_labels and len(t) == 2 * n_labels:
        inter_min, block_min = t[0::2], t[:n_labels]

        def whole(v):
            return bool(np.all(np.isfinite(v)) and np.all(v >= 0) and np.all(np.abs(v - np.rint(v)) < 1e-6))
        # The file stores minutes and seconds per event: the flat copy is interleaved (the C3D
        # order); a block layout is accepted when only it has whole minutes.
        if whole(inter_min) or not whole(block_min):
            return inter_min * 60.0 + t[1::2]
        return block_min * 60.0 + t[n_labels:]
    return t


def _param(params, group, name, default=None):
    try:
        return params[group][name]["value"]
    except (KeyError, TypeError):
        return default


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(x) for x in np.ravel(np.asarray(value, dtype=object))]


def _entries_from_group(params):
    labels = _as_list(_param(params, "EVENT", "LABELS"))
    times = _param(params, "EVENT", "TIMES")
    if not labels or times is None:
        return []
    seconds = event_seconds(times, len(labels))
    contexts = _as_list(_param(params, "EVENT", "CONTEXTS"))
    n = min(len(labels), len(seconds))
    used = np.ravel(np.asarray(_param(params, "EVENT", "USED", []) or [], dtype=np.float64))
    if len(used) and 0 <= int(used[0]) < n:
        n = int(used[0])
    return [(labels[i], contexts[i] if i < len(contexts) else "", float(seconds[i])) for i in range(n)]


def _entries_from_header(header):
    ev = (header or {}).get("events") or {}
    labels = list(ev.get("events_label") or [])
    times = list(np.ravel(ev.get("events_time", [])))
    n = min(len(labels), len(times), int(ev.get("size", len(labels)) or len(labels)))
    return [(str(labels[i]), "", float(times[i])) for i in range(n) if str(labels[i]).strip()]


def read_stored_events(params, header=None, trial_start_s=0.0, trial_end_s=None):
    """What the file stores: {"events", "unknown_side", "ignored_labels", "convention", "origin", "warnings"}.

    events: {side: {"foot_strike_s": [...], "foot_off_s": [...]}} or None when no usable event
    is stored. unknown_side: [{"label", "kind", "time_s"}] events whose side nothing says.
    ignored_labels: [{"label", "count"}] labels that are not foot strikes or foot offs.
    """
    origin = "EVENT group"
    entries = _entries_from_group(params)
    info = {"events": None, "unknown_side": [], "ignored_labels": [], "convention": None, "origin": None,
            "warnings": []}
    parsed = _parse(entries)
    if not parsed["n_used"] and not parsed["unknown_side"]:
        head = _parse(_entries_from_header(header))
        if head["n_used"] or head["unknown_side"]:
            origin, parsed = "header event section", head
        elif head["ignored"] and not parsed["ignored"]:
            origin, parsed = "header event section", head
    if not entries and origin == "EVENT group" and not parsed["ignored"]:
        return info
    info["origin"] = origin
    info["ignored_labels"] = [{"label": lab, "count": c} for lab, c in sorted(parsed["ignored"].items())]
    info["unknown_side"] = parsed["unknown_side"]
    info["convention"] = _convention(parsed["forms"], origin)
    if parsed["conflicts"]:
        info["warnings"].append("%d event(s) whose label and EVENT:CONTEXTS name different sides were ignored "
                                "(first: %s)" % (len(parsed["conflicts"]), parsed["conflicts"][0]))
    if parsed["ignored"]:
        info["warnings"].append("event labels not read as foot strike or foot off (reported, not guessed): %s"
                                % ", ".join("%r x%d" % (lab, c) for lab, c in sorted(parsed["ignored"].items())))
    if parsed["unknown_side"]:
        info["warnings"].append("%d stored event(s) say no side (%s); they are listed under events.stored."
                                "unknown_side and not used for cycles" % (
                                    len(parsed["unknown_side"]),
                                    ", ".join(sorted(set(e["label"] for e in parsed["unknown_side"])))))
    if not parsed["n_used"]:
        return info
    events = parsed["events"]
    _shift_if_relative(events, info, trial_start_s, trial_end_s)
    info["events"] = events
    return info


def _parse(entries):
    events = {side: {"foot_strike_s": [], "foot_off_s": []} for side in SIDES}
    out = {"events": events, "unknown_side": [], "ignored": {}, "forms": {}, "conflicts": [], "n_used": 0}
    for label, context, t in entries:
        if not np.isfinite(t):
            continue
        kind, side, form = classify_label(label)
        if kind is None:
            key = str(label).strip() or "(empty)"
            out["ignored"][key] = out["ignored"].get(key, 0) + 1
            continue
        ctx_side = side_of_context(context)
        if side and ctx_side and side != ctx_side:
            out["conflicts"].append("%r in context %r" % (label, context))
            continue
        how = "label" if side else "context" if ctx_side else "none"
        side = side or ctx_side
        out["forms"].setdefault((form, how), set()).add(str(label).strip())
        if side is None:
            out["unknown_side"].append({"label": str(label).strip(), "kind": kind, "time_s": round(t, 4)})
            continue
        events[side][kind + "_s"].append(t)
        out["n_used"] += 1
    for side in events.values():
        side["foot_strike_s"].sort()
        side["foot_off_s"].sort()
    return out


def _convention(forms, origin):
    """One line naming the labels read and where their side came from."""
    if not forms:
        return "no foot strike / foot off labels (%s)" % origin
    where = {"context": "side from EVENT:CONTEXTS", "label": "side in the label", "none": "no side"}
    parts = []
    for (form, how), labels in sorted(forms.items()):
        parts.append("%s (%s)" % ("/".join(sorted(labels)), where[how]))
    return "; ".join(parts) + " [%s]" % origin


def _shift_if_relative(events, info, trial_start_s, trial_end_s):
    """Put events written relative to the record's start back on the trial clock."""
    times = [t for side in events.values() for v in side.values() for t in v]
    if not times or trial_start_s <= 0 or trial_end_s is None:
        return
    length_s = trial_end_s - trial_start_s
    tol_s = 0.05
    outside = all(t < trial_start_s - tol_s or t > trial_end_s + tol_s for t in times)
    fits_relative = all(-tol_s <= t <= length_s + tol_s for t in times)
    if outside and fits_relative:
        for side in events.values():
            for k in side:
                side[k] = [t + trial_start_s for t in side[k]]
        info["warnings"].append("stored event times all lie before the first frame (%.3f s) but within the "
                                "record's length: read as relative to the record's start and shifted by "
                                "%.3f s" % (trial_start_s, trial_start_s))


def attach_c3d_events(rec, c3d, trial_start_s, analog_rate_hz):
    """Fill rec.events (stored), rec.event_info and rec.derived_events (force plates, markers).

    Derived events are computed for every file that has plates or markers, also when events are
    stored: the analysis cross-checks the sources and falls back on them when the stored ones are
    missing for a side or implausible.
    """
    from . import events_forceplate, events_markers

    params, header = c3d["parameters"], c3d["header"]
    points = c3d["data"]["points"]
    point_rate_hz = float(header["points"]["frame_rate"] or 0.0)
    n_frames = points.shape[2] if points.ndim == 3 else 0
    n_analog = c3d["data"]["analogs"].shape[-1]
    end_s = trial_start_s + (n_frames / point_rate_hz if point_rate_hz > 0 and n_frames else n_analog / analog_rate_hz)
    info = read_stored_events(params, header, trial_start_s, end_s)
    rec.events = info.pop("events")
    rec.event_info = info
    labels = _as_list(_param(params, "POINT", "LABELS"))
    for extra in ("LABELS2", "LABELS3", "LABELS4"):
        labels += _as_list(_param(params, "POINT", extra))
    labels = labels[:points.shape[1]] if n_frames else []
    unit = (_as_list(_param(params, "POINT", "UNITS")) or ["mm"])[0].strip().lower()
    to_mm = {"m": 1000.0, "cm": 10.0, "dm": 100.0, "mm": 1.0}.get(unit)
    if to_mm is None:
        to_mm = 1.0
        if labels:
            info["warnings"].append("POINT:UNITS %r is not a length unit; marker positions read as mm" % unit)
    if to_mm != 1.0 and n_frames:
        points = points * to_mm
    derived = {}
    if n_frames >= 10 and labels and point_rate_hz > 0:
        t_s = trial_start_s + np.arange(n_frames) / point_rate_hz
        m = events_markers.events_from_markers(points, labels, point_rate_hz, t_s)
        if m is not None:
            derived["markers"] = m
    if _param(params, "FORCE_PLATFORM", "USED") is not None and \
            int(np.ravel(_param(params, "FORCE_PLATFORM", "USED", [0]) or [0])[0]) > 0:
        plates, why = events_forceplate.plates_from_c3d(c3d)
        if plates is None:
            derived["forceplate"] = {"events": None, "warnings": [why]}
        elif plates:
            derived["forceplate"] = events_forceplate.plate_events(
                plates, analog_rate_hz, trial_start_s, points if labels else None, labels, point_rate_hz,
                trial_start_s)
    rec.derived_events = derived
