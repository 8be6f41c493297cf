import csv
from types import SimpleNamespace

import numpy as np
import pytest

from myostride import export
from myostride.analysis.inputs_c3d import load_c3d
from myostride.errors import UserError

FS = 2000.0
EVENTS = {"right": {"foot_strike_s": [0.61, 1.72, 62.5], "foot_off_s": [1.3]},
          "left": {"foot_strike_s": [1.15], "foot_off_s": [0.75, 1.86]}}


def channel(label, side, muscle, t0, drift_ppm, n, hole=None):
    k = np.arange(n)
    t = t0 + k / FS * (1 + drift_ppm * 1e-6)
    uv = 80 * np.sin(2 * np.pi * 23 * t) + 0.01 * k
    gaps = []
    if hole:
        keep = (k < hole[0]) | (k >= hole[1])
        gaps = [(float(t[hole[0] - 1]), float(t[hole[1]]))]
        t, uv = t[keep], uv[keep]
    return SimpleNamespace(label=label, node_id=int(label[-2:]), side=side, muscle=muscle, fs_hz=FS, t_s=t, uv=uv,
                           gaps=gaps, lead_off=[], status={})


@pytest.fixture
def channels():
    return [channel("node01", "right", "tibialis_anterior", 0.01234, 60, 8000, hole=(3000, 3113)),
            channel("node02", "left", "soleus", 0.0213, -90, 8000),
            channel("node03", "right", "peroneus_longus", 0.0155, 0, 7990)]


def test_c3d_round_trip_through_our_reader(tmp_path, channels):
    path = export.write_c3d(tmp_path / "s.c3d", channels, EVENTS)
    rec = load_c3d(str(path))
    assert rec.meta["analog_rate_hz"] == FS
    assert [e.label for e in rec.emg] == ["R_TIBANT", "L_SOL", "R_PERLONG"]
    t_grid, data, _ = export.grid_data(channels)
    for i, (ch, got) in enumerate(zip(channels, rec.emg)):
        # File time = session time; every recorded sample's value is preserved on the grid.
        finite = ~np.isnan(got.uv)
        assert got.t_s[finite][0] == pytest.approx(t_grid[~np.isnan(data[i])][0], abs=1e-9)
        on_file = np.interp(ch.t_s, got.t_s[finite], got.uv[finite])
        inside = (ch.t_s > got.t_s[finite][0]) & (ch.t_s < got.t_s[finite][-1])
        assert np.max(np.abs(on_file[inside] - ch.uv[inside])) < 2.0  # interpolation of a 23 Hz tone at 2 kHz
    # The radio gap stays a gap (113 samples, no fill): NaN in the file, which the reader turns back
    # into a time jump with no sample inside.
    tib = rec.emg[0]
    a, b = channels[0].gaps[0]
    assert not np.any((tib.t_s > a + 1e-9) & (tib.t_s < b - 1e-9) & np.isfinite(tib.uv))
    assert np.count_nonzero(np.isnan(data[0][(t_grid > a) & (t_grid < b)])) >= 112
    for side in ("left", "right"):
        for key in ("foot_strike_s", "foot_off_s"):
            assert rec.events[side][key] == pytest.approx(EVENTS[side][key], abs=1e-5)


def test_c3d_labels_units_and_events_params(tmp_path, channels):
    import ezc3d

    c = ezc3d.c3d(str(export.write_c3d(tmp_path / "s.c3d", channels, EVENTS)))
    p = c["parameters"]
    assert list(p["ANALOG"]["UNITS"]["value"]) == ["uV"] * 3
    assert "EMG right tibialis_anterior (node01)" in p["ANALOG"]["DESCRIPTIONS"]["value"]
    labels = list(p["EVENT"]["LABELS"]["value"])
    contexts = list(p["EVENT"]["CONTEXTS"]["value"])
    assert labels.count("Foot Strike") == 4 and labels.count("Foot Off") == 3
    assert set(contexts) == {"Left", "Right"}
    times = p["EVENT"]["TIMES"]["value"]
    assert 62.5 in np.round(times[0] * 60 + times[1], 4)  # minutes + seconds
    assert c["header"]["points"]["frame_rate"] == 100.0


def test_c3d_never_truncates_long_sessions(tmp_path, channels, monkeypatch):
    monkeypatch.setattr(export, "C3D_MAX_FRAMES", 30)  # as if the session were hours long
    path = export.write_c3d(tmp_path / "long.c3d", channels, None)
    rec = load_c3d(str(path))
    assert rec.meta["point_rate_hz"] < 100.0
    _, data, _ = export.grid_data(channels)
    for got, want in zip(rec.emg, data):
        assert np.count_nonzero(np.isfinite(got.uv)) == np.count_nonzero(np.isfinite(want))


def test_csv_time_column_and_empty_cells(tmp_path, channels):
    path = export.write_csv(tmp_path / "s.csv", channels)
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time_s", "R_TIBANT_uV", "L_SOL_uV", "R_PERLONG_uV"]
    t = np.array([float(r[0]) for r in rows[1:]])
    assert np.allclose(np.diff(t), 1 / FS, atol=2e-6)
    tib = [r[1] for r in rows[1:]]
    assert tib.count("") >= 112  # the gap is empty, not zero
    # node03 samples on the grid itself (no drift): its recorded values come out unchanged.
    per = channels[2]
    start = int(np.argmin(np.abs(t - per.t_s[0])))
    got = np.array([float(r[3]) for r in rows[1 + start:1 + start + len(per.uv)]])
    assert np.allclose(got, per.uv, atol=5e-4)


def test_mixed_rates_and_empty_session_are_user_errors(channels):
    channels[1].fs_hz = 1000.0
    with pytest.raises(UserError, match="different rates"):
        export.common_grid(channels)
    with pytest.raises(UserError, match="no EMG channels"):
        export.common_grid([])


def test_export_command_on_a_recorded_session(tmp_path, capsys):
    """A real session directory (raw log written with the codec, as the recorder does) -> C3D and CSV."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_acq"))
    from acqfakes import FakeNode, write_fake_session  # H5's synthetic-session writer

    from myostride.cli import main
    from myostride.session import load_session

    session_dir = tmp_path / "trial01"
    session_dir.mkdir()
    write_fake_session(session_dir / "raw.log", [FakeNode(1, ppm=40.0), FakeNode(2, offset_us=5_000_000, ppm=-70.0)],
                       seconds=2.0, lose={1: {5, 6}})
    session = load_session(session_dir)
    assert session.channels[0].gaps, "frames 5-6 of node 1 were never logged: the session must show a gap"
    assert main(["export", str(session_dir), "--format", "c3d"]) == 0
    out = tmp_path / "trial01.c3d"
    assert "wrote %s (2 channels" % out in capsys.readouterr().out
    rec = load_c3d(str(out))
    by_label = {e.label: e for e in rec.emg}
    for ch in session.channels:
        got = by_label[export.channel_label(ch)]
        finite = ~np.isnan(got.uv)
        # Every grid value lies on the recorded signal, and none was invented in a gap.
        expected = np.interp(got.t_s[finite], ch.t_s, ch.uv)
        assert np.max(np.abs(got.uv[finite] - expected)) < 1e-3
        assert finite.sum() <= len(ch.uv) + 1
        for a, b in ch.gaps:
            inside = (got.t_s > a + 1e-6) & (got.t_s < b - 1e-6)
            assert not np.any(np.isfinite(got.uv[inside]))
    assert main(["export", str(session_dir), "--format", "csv", "--out", str(tmp_path / "t.csv")]) == 0
    assert (tmp_path / "t.csv").read_text().startswith("time_s,")


def test_samples_before_session_start_shift_the_file_clock(tmp_path):
    import ezc3d

    chs = [channel("node01", "right", "tibialis_anterior", -0.25, 0, 4000)]
    path = export.write_c3d(tmp_path / "neg.c3d", chs, {"right": {"foot_strike_s": [-0.1, 0.5], "foot_off_s": []}})
    c = ezc3d.c3d(str(path))
    offset = float(c["parameters"]["MYOSTRIDE"]["SESSION_TIME_OFFSET_S"]["value"][0])
    assert offset == pytest.approx(-0.25)
    rec = load_c3d(str(path))
    assert rec.emg[0].t_s[0] + offset == pytest.approx(-0.25)
    assert rec.events["right"]["foot_strike_s"] == pytest.approx([0.15, 0.75], abs=1e-5)
