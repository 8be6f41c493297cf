"""Gait events from real lab C3D files: every stored vocabulary, and events derived from force
plates and markers once the stored ones are removed (compared with the stored ones).

The files' EVENT groups are rewritten with ezc3d into tmp_path (the shared files are never
touched). Tolerances are the product's goals (force plates 10 ms median, markers 25 ms median),
not fitted to these files.
"""

import numpy as np
import pytest

from myostride.analysis import c3d_events, events, pipeline
from myostride.analysis import load_input
from myostride.errors import UserError

from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

C3D = DATA / "c3d"
PIG = C3D / "pig_flatfoot_hole.c3d"
VICON = C3D / "vicon_functionalwalk.c3d"
SUB = C3D / "c3dorg_sub_labels.c3d"
BTS = C3D / "bts_1123x01.c3d"
PIG_MAP = {"R_TA": ("right", "tibialis_anterior"), "L_TA": ("left", "tibialis_anterior")}
VICON_MAP = {"EMG1": ("left", "tibialis_anterior"), "EMG2": ("right", "tibialis_anterior")}


def _need(path):
    if not path.exists():
        pytest.skip("shared recording %s not present" % path)
    return path


def _rewrite(src, dst, labels=None, contexts=None, times=None, drop=False):
    """Copy a C3D with its EVENT group replaced (or dropped)."""
    import ezc3d

    c = ezc3d.c3d(str(src))
    if drop:
        del c["parameters"]["EVENT"]
    else:
        ev = c["parameters"]["EVENT"]
        ev["LABELS"]["value"] = list(labels)
        ev["CONTEXTS"]["value"] = list(contexts if contexts is not None else [""] * len(labels))
        ev["TIMES"]["value"] = np.asarray(times, dtype=np.float64)
        ev["USED"]["value"] = np.array([len(labels)])
    c.write(str(dst))
    return str(dst)


def load_c3d(path, mapping):
    return load_input(str(path), maps=["%s=%s:%s" % (k, s, m) for k, (s, m) in mapping.items()])


def _stored(path):
    import ezc3d

    c = ezc3d.c3d(str(path))
    return c3d_events.read_stored_events(c["parameters"], c["header"])["events"]


def _flat(ev):
    """[(side, kind, time_s)] sorted by time."""
    return sorted(((s, k, t) for s in ev for k in ev[s] for t in ev[s][k]), key=lambda x: x[2])


@pytest.mark.parametrize("label,expect", [
    ("Foot Strike", ("foot_strike", None, "words")), ("Foot Off", ("foot_off", None, "words")),
    ("LHS", ("foot_strike", "left", "side+code")), ("RTO", ("foot_off", "right", "side+code")),
    ("LFS", ("foot_strike", "left", "side+code")), ("RFO", ("foot_off", "right", "side+code")),
    ("Left Foot Strike", ("foot_strike", "left", "side+words")),
    ("Right Foot Off", ("foot_off", "right", "side+words")),
    ("RON", ("foot_strike", "right", "side+code")), ("LOFF", ("foot_off", "left", "side+code")),
    ("eFS", ("foot_strike", None, "code")), ("mFO", ("foot_off", None, "code")),
    ("L_HS", ("foot_strike", "left", "side+code")), ("Toe Off", ("foot_off", None, "words")),
    ("Event", (None, None, "unknown")), ("General", (None, None, "unknown")),
    ("Max Knee Flexion", (None, None, "unknown")),
])
def test_label_vocabulary(label, expect):
    assert c3d_events.classify_label(label) == expect


def test_times_however_ezc3d_shapes_them():
    two_by_n = np.array([[0.0, 1.0], [2.5, 3.25]])
    assert c3d_events.event_seconds(two_by_n, 2) == pytest.approx([2.5, 63.25])
    assert c3d_events.event_seconds([2.5, 3.25, 4.0], 3) == pytest.approx([2.5, 3.25, 4.0])
    interleaved = [0.0, 5.05, 0.0, 5.58, 1.0, 0.5]  # what ezc3d gives for vicon_functionalwalk
    assert c3d_events.event_seconds(interleaved, 3) == pytest.approx([5.05, 5.58, 60.5])


def test_header_events_and_relative_clock():
    header = {"events": {"size": 18, "events_time": [1.0, 2.1, 1.6, 0, 0],
                         "events_label": ["RHS", "RHS", "RTO", "", ""]}}
    info = c3d_events.read_stored_events({}, header)
    assert info["origin"] == "header event section"
    assert info["events"]["right"] == {"foot_strike_s": [1.0, 2.1], "foot_off_s": [1.6]}
    # Times that all lie before the first frame but within the record's length were written
    # relative to the record's start: shifted onto the trial clock, with a warning.
    info = c3d_events.read_stored_events({}, header, trial_start_s=3.0, trial_end_s=6.0)
    assert info["events"]["right"]["foot_strike_s"] == pytest.approx([4.0, 5.1])
    assert any("relative to the record" in w for w in info["warnings"])


VARIANTS = {
    # name: (label for (side, kind), context for side, TIMES layout)
    "qualisys": (lambda s, k: s[0].upper() + {"foot_strike_s": "HS", "foot_off_s": "TO"}[k], lambda s: "", "2xn"),
    "side_words": (lambda s, k: "%s %s" % (s.title(), {"foot_strike_s": "Foot Strike", "foot_off_s": "Foot Off"}[k]),
                   lambda s: "General", "flat"),
    "visual3d": (lambda s, k: s[0].upper() + {"foot_strike_s": "ON", "foot_off_s": "OFF"}[k], lambda s: "", "flat"),
    "code_with_context": (lambda s, k: {"foot_strike_s": "eFS", "foot_off_s": "eFO"}[k], lambda s: s.title(), "2xn"),
    "lfs": (lambda s, k: s[0].upper() + {"foot_strike_s": "FS", "foot_off_s": "FO"}[k], lambda s: "", "2xn"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_vocabulary_reads_the_same_events(variant, tmp_path):
    truth = _stored(_need(PIG))
    label_fn, ctx_fn, layout = VARIANTS[variant]
    rows = [(label_fn(s, k), ctx_fn(s), t) for s, k, t in _flat(truth)]
    rows.insert(2, ("Event", "General", 2.5))  # a generic marker: reported, not guessed
    times = np.array([[0.0] * len(rows), [r[2] for r in rows]]) if layout == "2xn" else [r[2] for r in rows]
    path = _rewrite(PIG, tmp_path / "v.c3d", [r[0] for r in rows], [r[1] for r in rows], times)
    rec = load_c3d(path, PIG_MAP)
    for side in ("left", "right"):
        for kind in ("foot_strike_s", "foot_off_s"):
            assert rec.events[side][kind] == pytest.approx(truth[side][kind], abs=1e-4)
    assert rec.event_info["ignored_labels"] == [{"label": "Event", "count": 1}]
    assert rec.event_info["convention"]
    assert ("EVENT:CONTEXTS" in rec.event_info["convention"]) == (variant == "code_with_context")


def test_unknown_side_and_one_sided_events(tmp_path):
    truth = _stored(_need(PIG))
    right = [(k, t) for s, k, t in _flat(truth) if s == "right"]
    labels = ["RHS" if k == "foot_strike_s" else "RTO" for k, _ in right] + ["FS", "FO"]
    times = [t for _, t in right] + [2.14, 2.83]
    path = _rewrite(PIG, tmp_path / "one.c3d", labels, None, times)
    rec = load_c3d(path, PIG_MAP)
    assert rec.events["left"] == {"foot_strike_s": [], "foot_off_s": []}
    assert rec.events["right"]["foot_strike_s"] == pytest.approx(truth["right"]["foot_strike_s"], abs=1e-4)
    assert [e["label"] for e in rec.event_info["unknown_side"]] == ["FS", "FO"]
    # The left side has no stored stride: its events come from the plates and markers, said so.
    result = pipeline.analyse(rec)
    ev = result["events"]
    assert ev["source_by_side"] == {"left": "forceplate+markers", "right": "stored"}
    assert any("stored left events not used" in w for w in ev["warnings"])
    assert result["gait"]["left"]["strides"] >= 1


def _diffs_ms(found, truth):
    out = []
    for side in ("left", "right"):
        for kind in ("foot_strike_s", "foot_off_s"):
            ref = np.asarray(truth[side][kind])
            for t in found[side][kind]:
                if len(ref) and np.min(np.abs(ref - t)) < events.MATCH_TOLERANCE_S:
                    out.append(1000.0 * np.min(np.abs(ref - t)))
    return np.asarray(out)


@pytest.mark.parametrize("path,mapping", [(PIG, PIG_MAP), (VICON, VICON_MAP)])
def test_events_recovered_from_plates_and_markers(path, mapping, tmp_path):
    truth = _stored(_need(path))
    rec = load_c3d(_rewrite(path, tmp_path / "noev.c3d", drop=True), mapping)
    assert rec.events is None
    plate = rec.derived_events["forceplate"]["events"]
    d_plate = _diffs_ms(plate, truth)
    assert len(d_plate) >= 2 and np.median(d_plate) <= 10.0 and d_plate.max() <= 20.0
    markers = rec.derived_events["markers"]["events"]
    d_mark = _diffs_ms(markers, truth)
    n_truth = sum(len(v) for s in truth.values() for v in s.values())
    assert len(d_mark) >= n_truth - 4  # events at the record's edges cannot be found from an extreme
    assert np.median(d_mark) <= 25.0 and d_mark.max() <= 60.0
    result = pipeline.analyse(rec)
    assert result["events"]["source"] == "forceplate+markers"
    assert result["gait"]["left"]["strides"] >= 1 and result["gait"]["right"]["strides"] >= 1
    assert {tuple(c["sources"]) for c in result["events"]["cross_check"]} == {("forceplate", "markers")}


def test_disagreeing_sources_are_reported(tmp_path):
    """c3dorg's stored events sit 40-80 ms from its force plates: kept (stored first), but flagged."""
    rec = load_c3d(str(_need(SUB)), {"EMG1": ("right", "tibialis_anterior")})
    sel = events.select_events(rec)
    assert sel["source"] == "stored"
    pair = next(c for c in sel["cross_check"] if c["sources"] == ["stored", "forceplate"])
    assert pair["matched"] == 4 and pair["median_abs_ms"] > events.DISAGREE_MEDIAN_MS
    assert any("stored and forceplate disagree" in w for w in sel["warnings"])


def test_plate_side_unknown_without_markers():
    """Without foot markers a clean contact is reported with an unknown side, not guessed."""
    import ezc3d

    from myostride.analysis import events_forceplate

    c = ezc3d.c3d(str(_need(PIG)))
    plates, why = events_forceplate.plates_from_c3d(c)
    assert why is None
    out = events_forceplate.plate_events(plates, 1000.0, 1.42)
    assert out["events"] == {"left": {"foot_strike_s": [], "foot_off_s": []},
                             "right": {"foot_strike_s": [], "foot_off_s": []}}
    assert len(out["unknown_side"]) >= 1
    assert any("unknown foot" in w for w in out["warnings"])


def test_file_with_no_event_source_is_refused_in_one_line():
    rec = load_c3d(str(_need(BTS)), {"Right Tibialis Anterior": ("right", "tibialis_anterior")})
    with pytest.raises(UserError) as err:
        pipeline.analyse(rec)
    msg = str(err.value)
    assert "\n" not in msg and "--events" in msg


@pytest.mark.parametrize("names,expect", [
    (["LHEE", "LTOE", "RHEE", "RTOE", "SACR"], ("LHEE", "LTOE", "RHEE", "RTOE", ["SACR"])),
    (["Matt:LHEE", "Matt:LTOE", "Matt:RHEE", "Matt:RTOE", "Matt:LASI", "Matt:RASI"],
     ("Matt:LHEE", "Matt:LTOE", "Matt:RHEE", "Matt:RTOE", ["Matt:LASI", "Matt:RASI"])),
    (["L.Heel", "L.Toe", "R.Heel", "R.Toe", "L.ASIS", "R.PSIS"],
     ("L.Heel", "L.Toe", "R.Heel", "R.Toe", ["L.ASIS", "R.PSIS"])),
    (["l heel", "l mt1", "R_FCC", "R_MT5", "LTOO", "RT01", "L_PSIS"],
     ("l heel", "l mt1", "R_FCC", "R_MT5", ["L_PSIS"])),
    (["LCAL", "LVMH", "LIMH", "RCA", "RMT1", "RASIS"], ("LCAL", "LIMH", "RCA", "RMT1", ["RASIS"])),
])
def test_marker_names(names, expect):
    from myostride.analysis.marker_names import find_markers

    found = find_markers(names)
    got = (names[found["left"]["heel"][0]], names[found["left"]["toe"][0]],
           names[found["right"]["heel"][0]], names[found["right"]["toe"][0]],
           [names[i] for i in found["pelvis"]["sacrum"] + found["pelvis"]["asis"] + found["pelvis"]["psis"]])
    assert got == expect


def _points(path):
    import ezc3d

    c = ezc3d.c3d(str(path))
    h = c["header"]
    rate = float(h["points"]["frame_rate"])
    t = (int(h["points"]["first_frame"]) + np.arange(c["data"]["points"].shape[2])) / rate
    return c["data"]["points"].copy(), list(c["parameters"]["POINT"]["LABELS"]["value"]), rate, t


def test_marker_events_survive_renaming_rotation_and_a_treadmill():
    """The same walk with other marker names, a Y-up lab frame, and the pelvis held in place
    (what a treadmill recording looks like) gives the same events."""
    from myostride.analysis.events_markers import events_from_markers

    pts, labels, rate, t = _points(_need(PIG))
    base = events_from_markers(pts, labels, rate, t)
    assert base["details"]["mode"] == "overground"
    renamed = [{"LHEE": "Pat:L.Heel", "LTOE": "Pat:L.Toe", "RHEE": "Pat:R_FCC", "RTOE": "Pat:R_MT2",
                "LASI": "Pat:L.ASIS", "RASI": "Pat:R.ASIS", "LPSI": "Pat:L.PSIS", "RPSI": "Pat:R.PSIS"}.get(x, "X" + x)
               for x in labels]
    y_up = pts.copy()
    y_up[1], y_up[2] = pts[2], -pts[1]  # lab Z (up) becomes Y
    other = events_from_markers(y_up, renamed, rate, t)
    assert other["details"]["vertical_axis"] == "y"
    for side in ("left", "right"):
        for kind in ("foot_strike_s", "foot_off_s"):
            assert other["events"][side][kind] == pytest.approx(base["events"][side][kind], abs=1e-6)
    # Treadmill: subtract the pelvis's smoothed horizontal progression from every marker.
    idx = [labels.index(m) for m in ("LASI", "RASI", "LPSI", "RPSI")]
    pelvis = np.nanmean(pts[:3, idx, :], axis=1)
    tread = pts.copy()
    for k in (0, 1):
        tread[k] = pts[k] - pelvis[k][None, :]
    belt = events_from_markers(tread, labels, rate, t)
    assert belt["details"]["mode"] == "treadmill"
    assert belt["details"]["direction_from"] == "ASIS ahead of PSIS"
    d = _diffs_ms(belt["events"], base["events"])
    n_base = sum(len(v) for s in base["events"].values() for v in s.values())
    assert len(d) >= n_base - 1 and np.median(d) <= 10.0


def test_plates_with_negative_fz_and_an_offset(tmp_path):
    """Plates that report the load as negative, or were not zeroed, give the same contacts."""
    import ezc3d

    from myostride.analysis import events_forceplate

    src = _need(PIG)
    c = ezc3d.c3d(str(src))
    plates, _ = events_forceplate.plates_from_c3d(c)
    base = events_forceplate.plate_events(plates, 1000.0, 1.42)["unknown_side"]
    flipped = []
    for p in plates:
        q = dict(p)
        q["force"] = -p["force"] + np.array([[0.0], [0.0], [-35.0]])  # negative load, 35 N offset
        flipped.append(q)
    got = events_forceplate.plate_events(flipped, 1000.0, 1.42)["unknown_side"]
    assert len(got) == len(base) >= 1
    for a, b in zip(got, base):
        assert a["foot_strike_s"] == pytest.approx(b["foot_strike_s"], abs=0.002)
        assert a["foot_off_s"] == pytest.approx(b["foot_off_s"], abs=0.002)


def test_swapped_stored_events_give_way_to_plates_and_markers(tmp_path):
    truth = _stored(_need(PIG))
    rows = [(("Foot Off" if k == "foot_strike_s" else "Foot Strike"), s.title(), t) for s, k, t in _flat(truth)]
    path = _rewrite(PIG, tmp_path / "swapped.c3d", [r[0] for r in rows], [r[1] for r in rows],
                    np.array([[0.0] * len(rows), [r[2] for r in rows]]))
    rec = load_c3d(path, PIG_MAP)
    sel = events.select_events(rec)
    assert sel["source"] == "forceplate+markers"
    assert any("stored left events not used" in w and "swapped" in w for w in sel["warnings"])


def test_one_sided_stored_events_of_a_y_up_lab():
    """MOtoNMS (Y-up lab, BTS): stored events of the right foot only, one strike and one off."""
    path = _need(C3D / "motonms_unipd_walking1.c3d")
    rec = load_c3d(path, {"Right Tibialis anterior": ("right", "tibialis_anterior")})
    assert rec.events["left"] == {"foot_strike_s": [], "foot_off_s": []}
    sel = events.select_events(rec, sides_needed=["right"])
    assert sel["source_by_side"]["right"] == "forceplate+markers"
    assert any("stored right events not used: no complete plausible stride" in w for w in sel["warnings"])
    plate = rec.derived_events["forceplate"]["events"]["right"]
    frame_s = 1.0 / 60.0  # the stored events are whole video frames at 60 Hz
    assert plate["foot_strike_s"][0] == pytest.approx(rec.events["right"]["foot_strike_s"][0], abs=0.010)
    assert plate["foot_off_s"][0] == pytest.approx(rec.events["right"]["foot_off_s"][0], abs=2 * frame_s)


def test_markers_stored_in_metres(tmp_path):
    import ezc3d

    src = _need(PIG)
    c = ezc3d.c3d(str(src))
    c["data"]["points"][:3] = c["data"]["points"][:3] / 1000.0
    c["parameters"]["POINT"]["UNITS"]["value"] = ["m"]
    c.write(str(tmp_path / "m.c3d"))
    base = load_c3d(src, PIG_MAP).derived_events
    metres = load_c3d(tmp_path / "m.c3d", PIG_MAP).derived_events
    assert metres["markers"]["details"]["mode"] == "overground"
    for side in ("left", "right"):
        for kind in ("foot_strike_s", "foot_off_s"):
            assert metres["markers"]["events"][side][kind] == pytest.approx(base["markers"]["events"][side][kind],
                                                                            abs=1e-3)


@pytest.mark.parametrize("prefer", ["markers", "forceplate", "forceplate+markers"])
def test_events_from_forces_one_source_through_the_cli(prefer, tmp_path):
    import json

    from myostride import cli

    out = tmp_path / "a.json"
    assert cli.main(["analyze", str(_need(VICON)), "--map", "EMG1=left:soleus", "--events-from", prefer,
                     "--json", str(out)]) == 0
    ev = json.loads(out.read_text())["events"]
    assert ev["source"] == prefer and ev["convention"].startswith("Foot Off/Foot Strike")
    assert ev["left"]["foot_strike_s"]


@pytest.mark.parametrize("name", ["pig_flatfoot_hole", "vicon_functionalwalk", "c3dorg_sub_labels",
                                  "motonms_unipd_walking1"])
def test_plate_contacts_get_the_foot_the_lab_named(name):
    """Each clean contact's side (from the foot markers) is the side of the lab's stored strike."""
    import ezc3d

    from myostride.analysis.channels import Recording

    path = _need(C3D / (name + ".c3d"))
    c = ezc3d.c3d(str(path))
    rate = float(c["header"]["points"]["frame_rate"])
    start_s = int(c["header"]["points"]["first_frame"]) / rate
    rec = Recording("c3d", str(path), start_s)
    c3d_events.attach_c3d_events(rec, c, start_s, float(np.ravel(c["parameters"]["ANALOG"]["RATE"]["value"])[0]))
    sided = [k for k in rec.derived_events["forceplate"]["contacts"] if k["clean"] and k["side"]]
    assert sided
    checked = 0
    for contact in sided:
        near = {side: min([abs(t - contact["foot_strike_s"]) for t in rec.events[side]["foot_strike_s"]] or [9.0])
                for side in ("left", "right")}
        if min(near.values()) < 0.1:  # the lab stored this strike (one-sided files store only one foot)
            assert min(near, key=near.get) == contact["side"]
            checked += 1
    assert checked >= 1
