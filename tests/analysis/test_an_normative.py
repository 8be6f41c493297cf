"""Normal-window comparison on constructed activation profiles (the cycle is a circle)."""

import numpy as np

from myostride.analysis import normative


def profile(*spans):
    f = np.zeros(101)
    for a, b in spans:
        f[a:b + 1] = 1.0
    return f


def kinds(flags):
    return sorted(f["kind"] for f in flags)


def test_tibialis_anterior_wrapping_burst_is_normal():
    assert kinds(normative.compare(profile((0, 10), (60, 100)), "tibialis_anterior")) == ["normal"]


def test_premature_and_prolonged_calf():
    flags = normative.compare(profile((0, 60), (85, 100)), "soleus")  # normal 7-51
    assert kinds(flags) == ["premature"]
    assert "before the normal window starting at 7 %" in flags[0]["detail"]
    flags = normative.compare(profile((10, 75)), "soleus")
    assert kinds(flags) == ["prolonged"]


def test_out_of_phase_and_absent_window():
    flags = normative.compare(profile((70, 90)), "soleus")
    assert kinds(flags) == ["absent", "out_of_phase"]
    flags = normative.compare(profile((0, 10), (93, 100)), "rectus_femoris")  # misses 48-70
    assert kinds(flags) == ["absent"] and "48-70" in flags[0]["detail"]


def test_bridging_two_windows_is_prolonged():
    flags = normative.compare(profile((0, 14), (46, 100)), "rectus_femoris")
    assert kinds(flags) == ["prolonged"] and "between normal windows" in flags[0]["detail"]


def test_continuous_and_silent():
    assert kinds(normative.compare(np.ones(101), "soleus")) == ["continuous"]
    assert kinds(normative.compare(np.zeros(101), "soleus")) == ["absent"]


def test_half_of_strides_is_the_threshold():
    f = profile((10, 50)) * 0.49
    assert kinds(normative.compare(f, "soleus")) == ["absent"]
    f = profile((10, 50)) * 0.5
    assert kinds(normative.compare(f, "soleus")) == ["normal"]


def test_circular_runs_do_not_split_at_zero():
    mask = np.zeros(100, bool)
    mask[90:] = True
    mask[:5] = True
    runs = normative.circular_runs(mask)
    assert len(runs) == 1 and runs[0][0] == 90 and runs[0][-1] == 4
