"""Gait events from force plates: each clean contact gives one foot strike and one foot off.

Forces come from ezc3d's force-platform reader (FORCE_PLATFORM group, plate types 1-4,
SCALE/OFFSET and calibration matrices applied, lab frame). The vertical component is the one
along the plate's normal (from its CORNERS: Y-up and Z-up labs both exist); its sign is chosen so
that body weight is positive (plates and labs disagree on whether Fz is negative). The unloaded
level is the median of the lowest quarter of the record, so a plate that was not re-zeroed still
reads zero between contacts.

A contact is a stretch above the threshold (20 N, or 5 noise SDs of the unloaded plate if the
plate is noisier), crossings interpolated between samples. Only clean contacts count:
* inside the record (not loaded at its first or last sample: a cut contact has no true strike
  or off),
* 0.2-2.5 s long (shorter is a tap, longer two feet or standing),
* one foot on the plate: with foot markers, the foot nearest the centre of pressure at
  mid-stance has its heel and toe over the plate (10 mm margin) and the other foot is not on the
  plate when the contact ends; without markers, the centre of pressure stays inside the plate.
Side: the foot whose markers are nearest the centre of pressure at mid-stance; without
markers the side is unknown and the contact is reported but not used for cycles.
"""

import numpy as np

from .marker_names import find_markers

THRESHOLD_N = 20.0
CONTACT_S_RANGE = (0.2, 2.5)
FOOT_MARGIN_MM = 10.0
MERGE_GAP_S = 0.05
FOOT_NEAR_COP_MM = 250.0  # the centre of pressure lies under the foot: within about a foot length


def plates_from_c3d(c3d):
    """[{"force": (3, n) N, "cop": (3, n) mm, "corners": (3, 4) mm}] from an ezc3d.c3d object, or (None, why)."""
    try:
        from ezc3d import ezc3d as swig
        import ezc3d
        plates = [ezc3d.c3d.PlatForm(pf) for pf in swig.ForcePlatforms(c3d.c3d_swig).forcePlatforms()]
    except Exception as exc:  # ezc3d raises RuntimeError with C++ text on malformed groups
        return None, "force plates could not be read (%s)" % (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    out = []
    for p in plates:
        scale_n = {"n": 1.0, "kn": 1e3}.get(str(p["unit_force"]).strip().lower(), 1.0)
        scale_mm = {"mm": 1.0, "m": 1e3, "cm": 10.0}.get(str(p["unit_position"]).strip().lower(), 1.0)
        out.append({"force": np.asarray(p["force"], dtype=np.float64) * scale_n,
                    "cop": np.asarray(p["center_of_pressure"], dtype=np.float64) * scale_mm,
                    "corners": np.asarray(p["corners"], dtype=np.float64) * scale_mm})
    return out, None


def vertical_force(force, corners):
    """(vertical force with body weight positive, unit normal) of one plate."""
    c = np.asarray(corners, dtype=np.float64)
    normal = np.cross(c[:, 1] - c[:, 0], c[:, 2] - c[:, 1]) if c.shape == (3, 4) else np.zeros(3)
    if not np.isfinite(normal).all() or np.linalg.norm(normal) < 1e-6:
        normal = np.zeros(3)
        normal[int(np.argmax(np.ptp(force, axis=1)))] = 1.0  # no geometry: the axis carrying the load
    normal = normal / np.linalg.norm(normal)
    fz = normal @ force
    if not len(fz):
        return fz, normal
    dev = fz - np.median(fz)
    if dev[int(np.argmax(np.abs(dev)))] < 0:  # the load is the largest excursion: make it positive
        fz, normal = -fz, -normal
    return fz - np.median(fz[fz <= np.percentile(fz, 25)]), normal  # unloaded level to zero


def _crossings(fz, threshold):
    above = fz > threshold
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return above, edges


def _interp(fz, i, threshold):
    """Fractional sample index where fz crosses threshold between i and i + 1."""
    a, b = fz[i], fz[i + 1]
    return i + ((threshold - a) / (b - a) if b != a else 0.0)


def _inside(point_xy, corners_xy, margin):
    """Whether a point lies inside the plate's rectangle (any orientation) grown by margin."""
    c = corners_xy
    centre = c.mean(axis=1)
    u = c[:, 1] - c[:, 0]
    w = c[:, 3] - c[:, 0]
    lu, lw = np.linalg.norm(u), np.linalg.norm(w)
    if lu == 0 or lw == 0:
        return False
    d = point_xy - centre
    return abs(d @ u / lu) <= lu / 2 + margin and abs(d @ w / lw) <= lw / 2 + margin


def plate_events(plates, rate_hz, t0_s, points=None, point_labels=None, point_rate_hz=0.0, point_t0_s=0.0):
    """{"events": {side: {...}}, "unknown_side": [...], "contacts": [...], "warnings": [...]}.

    plates: from plates_from_c3d; rate_hz/t0_s: the analog clock (sample i at t0_s + i / rate_hz);
    points/point_labels: the markers (ezc3d layout) used to tell the feet apart, or None.
    """
    events = {side: {"foot_strike_s": [], "foot_off_s": []} for side in ("left", "right")}
    out = {"events": events, "unknown_side": [], "contacts": [], "warnings": []}
    feet = _foot_markers(points, point_labels) if points is not None else {}
    for k, plate in enumerate(plates):
        fz, normal = vertical_force(plate["force"], plate["corners"])
        if len(fz) < 3 or np.max(fz) < THRESHOLD_N:
            continue
        quiet = fz[fz <= np.percentile(fz, 50)]
        noise = float(np.std(quiet)) if len(quiet) > 10 else 0.0
        threshold = max(THRESHOLD_N, 5.0 * noise)
        above, edges = _crossings(fz, threshold)
        starts = [i for i in edges if not above[i]]
        ends = [i for i in edges if above[i]]
        if above[0]:
            out["contacts"].append({"plate": k + 1, "clean": False, "why": "loaded at the start of the record"})
            ends = ends[1:]
        if above[-1]:
            out["contacts"].append({"plate": k + 1, "clean": False, "why": "loaded at the end of the record"})
            starts = starts[:len(ends)]
        # Force hovering at the threshold chatters: a dip shorter than MERGE_GAP_S is one contact.
        merged = []
        for i0, i1 in zip(starts, ends):
            if merged and (i0 - merged[-1][1]) / rate_hz < MERGE_GAP_S:
                merged[-1][1] = i1
            else:
                merged.append([i0, i1])
        merged = [(i0, i1) for i0, i1 in merged if (i1 - i0) / rate_hz >= MERGE_GAP_S]
        for i0, i1 in merged:
            on_s = t0_s + _interp(fz, i0, threshold) / rate_hz
            off_s = t0_s + _interp(fz, i1, threshold) / rate_hz
            c = {"plate": k + 1, "foot_strike_s": round(on_s, 4), "foot_off_s": round(off_s, 4),
                 "peak_n": round(float(fz[i0:i1 + 1].max()), 1), "threshold_n": round(threshold, 1),
                 "side": None, "clean": True, "why": None}
            dur = off_s - on_s
            if not CONTACT_S_RANGE[0] <= dur <= CONTACT_S_RANGE[1]:
                c["clean"], c["why"] = False, "contact lasts %.2f s (clean: %.1f-%.1f s)" % (dur, *CONTACT_S_RANGE)
            else:
                _judge(c, plate, normal, i0, i1, feet, point_rate_hz, point_t0_s, t0_s, rate_hz)
            out["contacts"].append(c)
            if not c["clean"]:
                continue
            if c["side"]:
                events[c["side"]]["foot_strike_s"].append(on_s)
                events[c["side"]]["foot_off_s"].append(off_s)
            else:
                out["unknown_side"].append({"plate": k + 1, "foot_strike_s": round(on_s, 4),
                                            "foot_off_s": round(off_s, 4)})
    for side in events.values():
        side["foot_strike_s"].sort()
        side["foot_off_s"].sort()
    rejected = [c for c in out["contacts"] if not c["clean"]]
    if rejected:
        out["warnings"].append("force plates: %d contact(s) not clean, not used (%s)"
                               % (len(rejected), "; ".join("plate %d: %s" % (c["plate"], c["why"]) for c in rejected)))
    if out["unknown_side"]:
        out["warnings"].append("force plates: %d clean contact(s) of an unknown foot (no foot markers to tell "
                               "left from right); reported, not used for cycles" % len(out["unknown_side"]))
    return out


def _foot_markers(points, labels):
    """{side: (n_frames, k, 3) heel/toe trajectories} for feet with tracked markers."""
    found = find_markers(labels or [])
    feet = {}
    for side in ("left", "right"):
        idx = found.get(side, {}).get("heel", [])[:1] + found.get(side, {}).get("toe", [])[:1]
        idx = [i for i in idx if np.isfinite(points[0, i, :]).any()]
        if idx:
            feet[side] = np.stack([np.asarray(points[:3, i, :], dtype=np.float64).T for i in idx], axis=1)
    return feet


def _judge(c, plate, normal, i0, i1, feet, point_rate_hz, point_t0_s, t0_s, rate_hz):
    """Fill c["side"], or mark the contact unclean, from the markers or the centre of pressure."""
    axes = [a for a in range(3) if abs(normal[a]) < 0.7]  # the plate's two horizontal lab axes
    corners_xy = plate["corners"][axes]
    if np.ptp(corners_xy, axis=1).min() < 1.0:
        c["why"] = "plate has no CORNERS: side and whole-foot contact not checked"
        return
    if not feet or point_rate_hz <= 0:
        seg = plate["cop"][axes, i0 + (i1 - i0) // 5:i1 - (i1 - i0) // 5 + 1]
        seg = seg[:, np.all(np.isfinite(seg), axis=0)]
        if seg.shape[1] and not all(_inside(p, corners_xy, FOOT_MARGIN_MM) for p in seg.T):
            c["clean"], c["why"] = False, "centre of pressure leaves the plate"
        return

    def frame(i_analog):
        t = t0_s + i_analog / rate_hz
        return int(round((t - point_t0_s) * point_rate_hz))

    fend = frame(i1)
    # Which foot: the one standing on the plate stays by the centre of pressure and barely moves
    # during the contact; the other swings past (at mid-stance right beside it, so nearness
    # alone cannot tell them apart).
    near, moved, pos = {}, {}, {}
    for side, xyz in feet.items():
        d, where = [], []
        for q in np.linspace(0.15, 0.85, 8):
            ia = int(i0 + q * (i1 - i0))
            f = frame(ia)
            p_cop = plate["cop"][axes, ia]
            if not (0 <= f < xyz.shape[0]) or not np.isfinite(p_cop).all():
                continue
            m = xyz[f][:, axes]
            m = m[np.all(np.isfinite(m), axis=1)]
            if len(m):
                d.append(float(np.min(np.linalg.norm(m - p_cop, axis=1))))
                where.append((f, m))
        if len(d) >= 4:
            near[side] = float(np.median(d))
            moved[side] = float(np.linalg.norm(where[-1][1].mean(axis=0) - where[0][1].mean(axis=0)))
            pos[side] = where
    cands = [s for s in near if near[s] <= FOOT_NEAR_COP_MM]
    if len(cands) == 2:
        a_, b_ = sorted(cands, key=lambda s: moved[s])
        cands = [a_] if moved[a_] < 0.5 * moved[b_] else []
        if not cands:
            c["why"] = "both feet by the centre of pressure and moving alike: side unknown"
            return
    if not cands:
        c["why"] = ("no foot marker by the centre of pressure during the contact: side unknown" if near else
                    "no foot marker tracked during the contact: side unknown")
        return
    side = cands[0]
    c["side"] = side
    mid_f, mid_m = pos[side][len(pos[side]) // 2]
    if not all(_inside(p, corners_xy, FOOT_MARGIN_MM) for p in mid_m):
        c["side"] = None
        c["clean"], c["why"] = False, "%s foot not fully on the plate" % side
        return
    for other in [s for s in feet if s != side]:
        xyz = feet[other]
        if 0 <= fend < xyz.shape[0]:
            m = xyz[fend][:, axes]
            if any(_inside(p, corners_xy, 0.0) for p in m[np.all(np.isfinite(m), axis=1)]):
                c["side"] = None
                c["clean"], c["why"] = False, "%s foot on the plate as the %s foot leaves it" % (other, side)
