"""Issue 11 on the real lab files in ../shared/data/c3d and ktk_walk: units, quality calls, and
never a clinical finding from a technical failure.

The expected calls come from the data README (measured by hand) and were checked against the
signals; the thresholds are principles (docs/analysis.md s.6), not fitted to these files.
Files are read from the shared folder (their licences forbid copying them into the repository);
rewritten variants go to tmp_path.
"""

import json
from pathlib import Path

import ezc3d
import numpy as np
import pytest

from myostride.analysis import load_input, pipeline
from myostride.analysis.quality import TECHNICAL_CALLS
from myostride.cli import main
from myostride.muscles import MUSCLES

C3D = Path(__file__).resolve().parents[3] / "shared" / "data" / "c3d"
CLINICAL = ("absent", "continuous", "premature", "prolonged", "out_of_phase")


def real(name):
    path = C3D / name
    if not path.exists():
        pytest.skip("shared lab file %s not present" % path)
    return str(path)


def calls(path, **kw):
    rec = load_input(path, side=kw.pop("side", "right"), **kw)
    return {c["label"]: c for c in pipeline.channel_calls(rec)}, rec


def all_maps(path):
    """--map items putting every EMG channel of a file on a muscle (labels as the file has them)."""
    rec = load_input(path, side="right")
    labels = [ch.label for ch in list(rec.emg) + list(rec.unmapped_emg)]
    items = []
    for k, lab in enumerate(labels):
        items.append("%s=%s:%s" % (lab, ("left", "right")[k % 2], MUSCLES[(k // 2) % len(MUSCLES)]))
    return items


# --- calls per file -----------------------------------------------------------------------------

def test_pig_calls_units_declared_and_plausible():
    c, rec = calls(real("pig_flatfoot_hole.c3d"))
    assert c["R_TA"]["call"] == "artefact"
    assert c["L_PE"]["call"] == "weak"
    assert any("movement artefact" in r for r in c["R_ST"]["reasons"])  # borderline: noted or called
    for lab in ("R_RF", "R_GL", "R_PE", "L_RF", "L_ST", "L_TA", "L_GL"):
        assert c[lab]["call"] == "usable", (lab, c[lab]["reasons"])
    assert all(ch.unit == "uV" and ch.unit_decision["how"] == "declared" for ch in rec.emg)


def test_c3dorg_counts_clipped_and_dead():
    c, rec = calls(real("c3dorg_sub_labels.c3d"))
    assert all(ch.unit == "counts" for ch in rec.unmapped_emg)
    assert any("2048" in ch.unit_decision["why"] for ch in rec.unmapped_emg)
    for k in range(11, 17):
        assert c["EMG%d" % k]["call"] == "dead", c["EMG%d" % k]["reasons"]
    live = [c["EMG%d" % k]["call"] for k in range(1, 11)]
    assert "dead" not in [x for x, k in zip(live, range(1, 11)) if k != 8] and live.count("clipped") >= 4, live


def test_bts_mv_declared_all_live():
    c, rec = calls(real("bts_1123x01.c3d"))
    assert len(rec.emg) == 8 and not rec.unmapped  # "Right Biceps Femoris Caput Longu" (cut at 32) recognised
    assert all(ch.unit == "uV" and ch.unit_decision["declared"] == "mV" for ch in rec.emg)
    assert all(v["call"] not in ("dead", "weak") for v in c.values()), {k: v["call"] for k, v in c.items()}


def test_codamotion_preprocessed_quads_dead_hams_weak():
    c, rec = calls(real("codamotion_ademo1.c3d"))
    assert all(ch.preprocessed for ch in rec.emg) and len(rec.emg) == 8
    assert c["R.Quads"]["call"] == c["L.Quads"]["call"] == "dead"
    assert c["R.Med.Hams"]["call"] == c["L.Med.Hams"]["call"] == "weak"
    for lab in ("R.Ant.Tib", "L.Ant.Tib", "R.Gastroc", "L.Gastroc"):
        assert c[lab]["call"] == "pre-processed"
    assert any("rectified" in w for w in rec.warnings)


def test_codamotion_envelope_is_the_recording_not_a_band_passed_copy():
    rec = load_input(real("codamotion_ademo1.c3d"))
    ch = next(ch for ch in rec.emg if ch.label == "R.Gastroc")
    cond = pipeline.condition_channel(ch, pipeline.settings_with())
    # The envelope follows the recorded level (a band-passed, re-rectified copy would lose it).
    assert np.mean(cond.envelope) == pytest.approx(np.mean(ch.uv), rel=0.1)
    assert np.corrcoef(cond.envelope, ch.uv)[0, 1] > 0.6
    assert cond.modulated and len(cond.intervals_s) >= 2


def test_vicon_functionalwalk_every_emg_dead_with_mains():
    c, rec = calls(real("vicon_functionalwalk.c3d"))
    emg = {k: v for k, v in c.items() if k.startswith("EMG")}
    assert len(emg) == 16
    assert all(v["call"] == "dead" for v in emg.values())
    assert sum("mains" in "; ".join(v["reasons"]) for v in emg.values()) >= 12


def test_motonms_amplified_not_presented_as_microvolts():
    c, rec = calls(real("motonms_unipd_walking1.c3d"))
    assert all(ch.unit == "a.u." for ch in rec.emg + rec.unmapped_emg)
    assert "gain not removed" in rec.emg[0].unit_decision["why"]
    assert c["Right Adductor Longus"]["call"] == "artefact"
    assert sum(v["call"] == "usable" for v in c.values()) >= 12
    assert "Right Sartorius" in rec.unmapped  # not in the vocabulary: listed, never guessed


def test_ktk_volts_declared_and_live(ktk_c3d):
    c, rec = calls(ktk_c3d)
    emg = [ch for ch in rec.unmapped_emg]
    assert len(emg) == 8 and all(ch.unit == "uV" and ch.unit_decision["how"] == "declared" for ch in emg)
    assert all(c[ch.label]["call"] in ("usable", "artefact") for ch in emg)


# --- units: the same file in other units gives the same calls and the same timing -----------------

def _rewrite(src, dst, factor, unit):
    c = ezc3d.c3d(src)
    labels = list(c["parameters"]["ANALOG"]["LABELS"]["value"])
    units = list(c["parameters"]["ANALOG"]["UNITS"]["value"])
    a = c["data"]["analogs"].copy()
    for i, lab in enumerate(labels):
        if lab[:2] in ("R_", "L_"):
            a[0, i, :] *= factor
            units[i] = unit
    c["data"]["analogs"] = a
    c["parameters"]["ANALOG"]["UNITS"]["value"] = units
    c.write(str(dst))
    return str(dst)


@pytest.fixture(scope="module")
def pig_base():
    """The pig file's own analysis, shared by the tests that compare against it."""
    return pipeline.analyse(load_input(real("pig_flatfoot_hole.c3d")))


def _summary(result):
    return {ch["label"]: (ch["quality"]["call"], ch["quality"]["usable"],
                          [cy["active_pct"] for cy in ch["cycles"]], [f["kind"] for f in ch["comparison"]["flags"]])
            for ch in result["channels"]}


@pytest.mark.parametrize("factor,unit,expect_unit,expect_how", [
    (1e6, "V", "uV", "inferred"),      # microvolt numbers labelled V (issue 11, file 1)
    (1e3, "uV", "uV", "inferred"),     # millivolt numbers labelled uV
    (1e3, "V", "a.u.", "inferred"),    # 1000x too large: a gain left in, never called microvolts
    (1e-3, "V", "a.u.", "inferred"),   # nothing fits: file units
])
def test_rescaled_and_relabelled_emg_same_calls_and_timing(tmp_path, pig_base, factor, unit, expect_unit, expect_how):
    src = real("pig_flatfoot_hole.c3d")
    base = pig_base
    path = _rewrite(src, tmp_path / "scaled.c3d", factor, unit)
    rec = load_input(path)
    assert {ch.unit for ch in rec.emg} == {expect_unit}
    assert {ch.unit_decision["how"] for ch in rec.emg} == {expect_how}
    got = pipeline.analyse(rec)
    b, g = _summary(base), _summary(got)
    assert b.keys() == g.keys()
    for lab in b:
        assert b[lab][0] == g[lab][0], (lab, b[lab][0], g[lab][0])
        assert np.allclose(np.array(sum(b[lab][2], []), dtype=float).ravel(),
                           np.array(sum(g[lab][2], []), dtype=float).ravel(), atol=0.051), lab
    assert got["technical"]["units"][0]["how"] == expect_how


def test_emg_units_overrides_inference(tmp_path):
    path = _rewrite(real("pig_flatfoot_hole.c3d"), tmp_path / "s.c3d", 1e3, "V")
    rec = load_input(path, units="mV")
    assert all(ch.unit == "uV" and ch.unit_decision["how"] == "override" for ch in rec.emg)
    assert np.median([np.std(ch.uv) for ch in rec.emg]) == pytest.approx(
        np.median([np.std(ch.uv) for ch in load_input(real("pig_flatfoot_hole.c3d")).emg]), rel=1e-6)


# --- a technical failure is never a clinical finding ------------------------------------------------

@pytest.mark.parametrize("name", ["pig_flatfoot_hole.c3d", "c3dorg_sub_labels.c3d", "vicon_functionalwalk.c3d"])
def test_technical_failures_carry_no_clinical_flag(name):
    path = real(name)
    result = pipeline.analyse(load_input(path, maps=all_maps(path)))
    failed = 0
    for ch in result["channels"]:
        if ch["quality"]["call"] in TECHNICAL_CALLS:
            failed += 1
            assert ch["comparison"]["flags"] == [], (ch["label"], ch["comparison"])
            assert ch["comparison"]["reason"].startswith("no usable signal:")
            assert "check" in ch["comparison"]["reason"]
        for f in ch["comparison"]["flags"]:
            if f["kind"] in ("absent", "continuous") and "normal window" not in f["detail"]:
                assert ch["quality"]["muscle_shown"], (ch["label"], f)
    assert failed >= 1
    tech = result["technical"]["channels_without_usable_signal"]
    assert len(tech) >= failed and all(t["fix"] for t in tech)


def test_vicon_functionalwalk_yields_no_clinical_finding_at_all():
    path = real("vicon_functionalwalk.c3d")
    result = pipeline.analyse(load_input(path, maps=all_maps(path)))
    assert len(result["channels"]) == 16
    kinds = [f["kind"] for ch in result["channels"] for f in ch["comparison"]["flags"]]
    assert kinds == [], kinds
    assert not any(ch["comparison"]["interpreted"] for ch in result["channels"])


# --- every file: analysed or one clear line --------------------------------------------------------

@pytest.mark.parametrize("name", ["pig_flatfoot_hole.c3d", "c3dorg_sub_labels.c3d", "bts_1123x01.c3d",
                                  "codamotion_ademo1.c3d", "vicon_functionalwalk.c3d", "motonms_unipd_walking1.c3d"])
def test_every_file_analyses_or_refuses_in_one_line(name, tmp_path, capsys):
    path = real(name)
    out = tmp_path / "a.json"
    code = main(["analyze", path, "--json", str(out), "--side", "right"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 0:
        result = json.loads(out.read_text())
        assert result["technical"]["units"]
    else:
        assert code == 2
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and ("--events" in lines[0] or "--map" in lines[0]), lines


def test_unmapped_channels_get_a_ready_map_line(capsys):
    path = real("c3dorg_sub_labels.c3d")
    code = main(["analyze", path])
    err = capsys.readouterr().err
    assert code == 2 and "--map 'EMG1=right:MUSCLE'" in err


def test_truncated_c3d_refused_as_truncated(tmp_path, capsys):
    src = Path(real("pig_flatfoot_hole.c3d")).read_bytes()
    cut = tmp_path / "cut.c3d"
    cut.write_bytes(src[:len(src) // 2])
    code = main(["analyze", str(cut)])
    err = capsys.readouterr().err
    assert code == 2 and "truncated" in err and len(err.strip().splitlines()) == 1


# --- rates ----------------------------------------------------------------------------------------

def test_960_hz_analyses_like_1000_hz(tmp_path, pig_base):
    """The pig file resampled to 960 Hz (CSV + events CSV): analysed, same calls, timing within a
    sample or two of the 1000 Hz run."""
    from scipy import signal
    src = real("pig_flatfoot_hole.c3d")
    rec = load_input(src)
    base = pig_base
    t0 = rec.emg[0].t_s[0]
    cols = [signal.resample_poly(ch.uv, 24, 25) for ch in rec.emg]
    t = t0 + np.arange(len(cols[0])) / 960.0
    emg = tmp_path / "pig960.csv"
    np.savetxt(emg, np.column_stack([t] + cols), delimiter=",", comments="",
               header=",".join(["time"] + [ch.label for ch in rec.emg]))
    ev = tmp_path / "pig960_events.csv"
    rows = ["side,event,time_s"]
    for side in ("left", "right"):
        for kind in ("foot_strike", "foot_off"):
            rows += ["%s,%s,%r" % (side, kind, v) for v in rec.events[side][kind + "_s"]]
    ev.write_text("\n".join(rows) + "\n")
    got = pipeline.analyse(load_input(str(emg), events_csv=str(ev)))
    b, g = _summary(base), _summary(got)
    for lab in b:
        assert b[lab][0] == g[lab][0], (lab, b[lab][0], g[lab][0])


# --- side / label plausibility --------------------------------------------------------------------

def test_a_calf_muscle_labelled_on_the_wrong_leg_is_pointed_out(pig_base):
    path = real("pig_flatfoot_hole.c3d")
    ok = pig_base
    assert not [c for c in ok["channels"] if c["side_check"] and c["muscle"] == "gastrocnemius_lateralis"]
    swapped = pipeline.analyse(load_input(path, maps=["R_GL=left:gastrocnemius_lateralis",
                                                      "L_GL=right:gastrocnemius_lateralis"]))
    warned = {c["label"] for c in swapped["channels"] if c["side_check"]}
    assert warned & {"R_GL", "L_GL"}, [c["side_check"] for c in swapped["channels"]]
    ch = next(c for c in swapped["channels"] if c["label"] in warned)
    assert ch["comparison"]["interpreted"] and ch["cycles"]  # own-side analysis kept
    assert swapped["technical"]["side_label_warnings"]
    assert any("other leg or mislabelled" in w for w in swapped["warnings"])


# --- the report's technical section ----------------------------------------------------------------

def test_report_technical_section_apart_from_clinical_findings(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
    import report_fixtures as rf
    from myostride.report.content import report_sections
    from myostride.study.summary import build_summary

    path = real("vicon_functionalwalk.c3d")
    analysis = pipeline.analyse(load_input(path, maps=all_maps(path)))
    summary = build_summary(analysis, rf.clinical(), None)
    from matplotlib.figure import Figure
    sections = {s["title"]: s for s in report_sections(summary, analysis, figure_maker=lambda ch: Figure((1, 1)))
                if isinstance(s, dict) and "title" in s}
    tech = sections["Technical findings"]
    tables = [b for b in tech["blocks"] if b[0] == "table"]
    assert tables and len(tables[0][2]) == 16 and all(row[1] == "dead" and "check" in row[3] for row in tables[0][2])
    text = json.dumps(tech["blocks"])
    assert "counts" in text and "EMG units" in text
    assert all(not m["flags"] for m in summary["muscles"])


def test_issue_file_1_dead_channel_beside_microvolt_numbers_labelled_volts(tmp_path, pig_base):
    """Issue 11's first case: microvolt-scaled numbers labelled V, one channel ~40x below its
    siblings (amplifier noise). Before: that channel was 'continuous'. Now: dead, no flag, and
    the live channels keep their calls."""
    src = real("pig_flatfoot_hole.c3d")
    c = ezc3d.c3d(src)
    labels = list(c["parameters"]["ANALOG"]["LABELS"]["value"])
    a = c["data"]["analogs"].copy()
    emg = [i for i, lab in enumerate(labels) if lab[:2] in ("R_", "L_")]
    for i in emg:
        a[0, i, :] *= 1e6
    sib = np.median([np.std(a[0, i]) for i in emg])
    dead = labels.index("L_GL")
    a[0, dead, :] = np.random.default_rng(7).standard_normal(a.shape[2]) * sib / 40.0
    c["data"]["analogs"] = a
    c.write(str(tmp_path / "issue1.c3d"))
    result = pipeline.analyse(load_input(str(tmp_path / "issue1.c3d")))
    by = {ch["label"]: ch for ch in result["channels"]}
    assert by["L_GL"]["quality"]["call"] == "dead" and by["L_GL"]["comparison"]["flags"] == []
    assert "no usable signal" in by["L_GL"]["comparison"]["reason"]
    assert {ch.unit_decision["how"] for ch in load_input(str(tmp_path / "issue1.c3d")).emg} == {"inferred"}
    base = {ch["label"]: ch["quality"]["call"] for ch in pig_base["channels"]}
    for lab, ch in by.items():
        if lab != "L_GL":
            assert ch["quality"]["call"] == base[lab], lab


def test_modulated_channels_never_get_a_whole_cycle_claim_from_a_detection_miss():
    """MOtoNMS (BTS) channels start with 0.17 s of exact zeros (export padding) and one stride:
    the padding is not signal, and a strongly modulated channel in which the detector finds no
    burst is 'timing not interpreted', never 'absent'/'continuous'."""
    path = real("motonms_unipd_walking1.c3d")
    rec = load_input(path)
    assert all(ch.padding_s[0] > 0.1 for ch in rec.emg)
    result = pipeline.analyse(rec)
    for ch in result["channels"]:
        for f in ch["comparison"]["flags"]:
            if f["kind"] in ("absent", "continuous"):
                assert "normal window" in f["detail"], (ch["label"], f)
    assert any("export padding" in w for w in result["warnings"])
