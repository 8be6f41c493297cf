"""Issue 11 (labels, mapping files, absent vs continuous) and issue 17 move 5 (settings are checked)."""

import numpy as np
import pytest
from scipy import signal

from myostride.analysis import pipeline
from myostride.analysis.channels import EmgInput, Recording, assign_muscles, read_map_file, recognise_label
from myostride.cli import main
from myostride.errors import UserError


@pytest.mark.parametrize("label,side,muscle", [
    ("Voltage.R_TibAnt", "right", "tibialis_anterior"),
    ("RTIBANT", "right", "tibialis_anterior"),
    ("R_TA", "right", "tibialis_anterior"),
    ("Right Tibialis anterior", "right", "tibialis_anterior"),
    ("Tibialis Anterio", None, "tibialis_anterior"),              # cut at 16 characters
    ("Right Biceps Femoris Caput Longu", "right", "biceps_femoris"),  # cut at 32
    ("RTTI", "right", "tibialis_anterior"),
    ("LTGA", "left", "gastrocnemius_medialis"),
    ("R.Quads", "right", "vastus_lateralis"),
    ("L.Med.Hams", "left", "semitendinosus"),
    ("R.Ant.Tib", "right", "tibialis_anterior"),
    ("L.Gastroc", "left", "gastrocnemius_medialis"),
    ("Right Peroneus longus", "right", "peroneus_longus"),
    ("Right Tensor fasciae latae", "right", "tensor_fasciae_latae"),
    ("L_PE", "left", "peroneus_longus"),
    ("Tib Ant", None, "tibialis_anterior"),
])
def test_vendor_labels(label, side, muscle):
    assert recognise_label(label) == (side, muscle)


@pytest.mark.parametrize("label", ["Sensor 1.EMG1", "EMG1.v", "TAP", "Right Sartorius", "Pin 1", "RT", "Fz1"])
def test_labels_that_are_not_known_muscles_stay_unmapped(label):
    assert recognise_label(label) is None


def _rec(labels, fs_hz=1000.0):
    rec = Recording("c3d", "x.c3d")
    t = np.arange(2000) / fs_hz
    for lab in labels:
        rec.emg.append(EmgInput(lab, fs_hz, t, np.random.default_rng(0).standard_normal(2000)))
    return rec


def test_unsided_label_takes_side_and_generic_label_is_said():
    rec = assign_muscles(_rec(["Tibialis Anterio", "Gastroc"]), {}, default_side="left")
    assert [(c.side, c.muscle) for c in rec.emg] == [("left", "tibialis_anterior"), ("left", "gastrocnemius_medialis")]
    assert any("medial head" in w for w in rec.warnings)


def test_unsided_label_without_side_asks_for_it():
    with pytest.raises(UserError, match="--side"):
        assign_muscles(_rec(["Tibialis Anterio"]), {})


def test_unmapped_channels_listed_with_a_ready_map_line():
    rec = assign_muscles(_rec(["Sensor 3.EMG3", "R_TA", "Right Sartorius"]), {})
    assert rec.unmapped == ["Sensor 3.EMG3", "Right Sartorius"]
    assert rec.map_lines == ["--map 'Sensor 3.EMG3=right:MUSCLE'", "--map 'Right Sartorius=right:MUSCLE'"]
    assert any("--map 'Sensor 3.EMG3=right:MUSCLE'" in w for w in rec.warnings)


PYCGM2 = """
CHANNELS:
  Voltage.EMG1:
    Muscle: RECFEM
    Context: Left
    NormalActivity: RECFEM
  Voltage.EMG2:
    Muscle: Tibialis anterior
    Context: Right
    NormalActivity: TIBANT
  Voltage.EMG3:
    Muscle: None
    Context: None
    NormalActivity: None
Processing:
  BandpassFrequencies: [20, 200]
"""


def test_pycgm2_emg_settings_as_a_mapping_source(tmp_path):
    p = tmp_path / "emg.settings"
    p.write_text(PYCGM2)
    assert read_map_file(str(p)) == ["Voltage.EMG1=Left:rectus_femoris", "Voltage.EMG2=Right:tibialis_anterior"]


def test_csv_mapping_file_and_bad_muscle(tmp_path):
    p = tmp_path / "map.csv"
    p.write_text("label,side,muscle\nEMG1,left,Soleus\nEMG2,r,TA\n")
    assert read_map_file(str(p)) == ["EMG1=left:soleus", "EMG2=r:tibialis_anterior"]
    p.write_text("EMG1,left,Sartorius\n")
    with pytest.raises(UserError, match="Sartorius"):
        read_map_file(str(p))


def test_map_file_on_the_cli_is_one_line_when_missing(tmp_path, capsys):
    code = main(["analyze", str(tmp_path / "x.c3d"), "--map-file", str(tmp_path / "nope.settings")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1


# --- issue 17 move 5: settings are checked, never quietly defaulted ------------------------------

@pytest.mark.parametrize("overrides,match", [
    ({"powerlin": "notch"}, "unknown analysis setting 'powerlin'"),
    ({"powerline": "median"}, "powerline must be one of"),
    ({"normalisation": "max"}, "normalisation must be one of"),
    ({"events_from": "marker"}, "events_from must be one of"),
    ({"mains_hz": 55}, "mains_hz must be one of"),
    ({"detector": {"refine": "bayes"}}, "refine must be one of"),
    ({"detector": {"k_onn": 3}}, "unknown detector setting"),
    ({"band_hz": [450, 20]}, "band_hz"),
])
def test_unknown_settings_and_values_raise(overrides, match):
    with pytest.raises(ValueError, match=match):
        pipeline.settings_with(**overrides)


def test_analyse_checks_a_hand_built_settings_dict(make_synthetic):
    rec, _ = make_synthetic(seconds=6.0, muscles=[("left", "soleus")])
    s = pipeline.settings_with()
    s["powerline"] = "Notch"
    with pytest.raises(ValueError, match="powerline"):
        pipeline.analyse(rec, s)


def test_bad_emg_units_is_one_line(tmp_path, capsys):
    code = main(["analyze", str(tmp_path), "--emg-units", "volts"])
    err = capsys.readouterr().err
    assert code == 2 and "--emg-units" in err and len(err.strip().splitlines()) == 1


# --- absent vs continuous: whole-cycle claims need a channel shown to record a muscle ------------

def _stationary(kind, rms, fs_hz, n, seed=5):
    x = np.random.default_rng(seed).standard_normal(n)
    if kind == "emg":  # EMG-coloured (most power 30-150 Hz)
        x = signal.sosfiltfilt(signal.butter(2, (30, 150), "bandpass", fs=fs_hz, output="sos"), x)
    return rms * x / np.std(x)


@pytest.mark.parametrize("kind,rms,unit,expect", [
    ("emg", 80.0, "uV", ["continuous"]),   # broadband EMG far above the floor, known unit: a claim
    ("white", 80.0, "uV", []),              # amplifier noise: dead, no claim
    ("emg", 80.0, "a.u.", []),              # unknown scale: nothing says it is above the floor
    ("emg", 3.0, "uV", ["absent"]),         # quiet, EMG-shaped, known unit, little mains
    ("emg", 0.01, "uV", []),                # too quiet to be a connected electrode
])
def test_whole_cycle_claims_need_a_muscle(make_synthetic, kind, rms, unit, expect):
    rec, _ = make_synthetic(seconds=12.0, muscles=[("left", "soleus")], snr_db=20.0)
    ch = rec.emg[0]
    rec.emg[0] = EmgInput(ch.label, ch.fs_hz, ch.t_s, _stationary(kind, rms, ch.fs_hz, len(ch.t_s)), side="left",
                          muscle="soleus", unit=unit)
    out = pipeline.analyse(rec)["channels"][0]
    kinds = [f["kind"] for f in out["comparison"]["flags"]]
    assert kinds == expect, (kinds, out["quality"]["call"], out["quality"]["call_reasons"], out["comparison"])
    if not expect:
        assert not out["comparison"]["interpreted"]
