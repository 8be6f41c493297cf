"""Session input through the real session loader (myostride.session.load_session).

A raw log is written with the acquisition tests' fake nodes (real codec frames, drifting node
clocks, time-sync exchanges), but each node's ADC codes are simulated walking EMG; frames lost
on the radio become gaps, and the strides they touch must be excluded and counted.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_acq"))

acqfakes = pytest.importorskip("acqfakes")

from myosim.emg import synthesize_trial  # noqa: E402
from myostride.analysis import load_input, pipeline  # noqa: E402

START_US = 10_000_000
SECONDS = 12.0


class EmgNode(acqfakes.FakeNode):
    """A fake node whose ADC codes are a simulated muscle, indexed by the global time of sample k."""

    def __init__(self, node_id, uv, **kw):
        super().__init__(node_id, **kw)
        self.uv = uv

    def code(self, k):
        g_s = (self.global_us(k * 1e6 / self.emg_hz) - START_US) / 1e6
        i = int(round(g_s * self.emg_hz))
        v = self.uv[i] if 0 <= i < len(self.uv) else 0.0
        return np.int16(np.clip(round(v * 1000.0 / self.nv), -32768, 32767))


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory):
    sig, events, truth = synthesize_trial("normal", SECONDS + 1.0, seed=7, fs_hz=2000, snr_db=20.0, hum_hz=50,
                                          muscles=[("left", "soleus"), ("right", "tibialis_anterior")])
    # write_fake_session maps odd node ids to left soleus, even ones to right tibialis anterior.
    nodes = [EmgNode(1, sig[("left", "soleus")], offset_us=2_000_000, ppm=60, nv_per_lsb=100),
             EmgNode(2, sig[("right", "tibialis_anterior")], offset_us=9_000_000, ppm=-80, nv_per_lsb=100)]
    path = tmp_path_factory.mktemp("session")
    acqfakes.write_fake_session(path / "raw.log", nodes, seconds=SECONDS, lose={1: set(range(60, 66))})
    ev = path / "events.csv"
    rows = ["side,event,time_s"]
    for side in ("left", "right"):
        rows += ["%s,foot_strike,%.6f" % (side, t) for t in events[side]["foot_strike_s"]]
        rows += ["%s,foot_off,%.6f" % (side, t) for t in events[side]["foot_off_s"]]
    ev.write_text("\n".join(rows) + "\n")
    return path, truth


def test_session_channels_mapped_and_gaps_excluded(session_dir):
    path, truth = session_dir
    rec = load_input(str(path), events_csv=str(path / "events.csv"))
    assert rec.kind == "session"
    by_muscle = {ch.muscle: ch for ch in rec.emg}
    assert by_muscle["soleus"].side == "left" and by_muscle["tibialis_anterior"].side == "right"
    r = pipeline.analyse(rec)
    assert r["source"]["kind"] == "session"
    sol = next(c for c in r["channels"] if c["muscle"] == "soleus")
    assert sol["quality"]["lost_samples"] == 6 * 113
    gap_strides = [c for c in sol["cycles"] if c["excluded"] == "gap in data"]
    assert len(gap_strides) >= 1 and sol["strides_excluded"] >= 1
    assert sol["strides_used"] >= 6
    # Timing on the session clock agrees with the simulated truth (global clock, same origin).
    freq = np.array(sol["activation_frequency"])
    assert freq[25:40].mean() >= 0.8 and freq[70:95].mean() <= 0.2
    for cyc in sol["cycles"]:
        for on, off in cyc["active_s"]:
            mid = 0.5 * (on + off)
            assert any(a - 0.05 <= mid <= b + 0.05 for a, b in truth[("left", "soleus")])
    ta = next(c for c in r["channels"] if c["muscle"] == "tibialis_anterior")
    assert ta["quality"]["lost_samples"] == 0
    # Events run past the 12 s session: those strides are outside the recording, none has a gap.
    assert {c["excluded"] for c in ta["cycles"]} <= {None, "outside recording"}
    assert ta["strides_used"] >= 8
