"""`myostride analyze` on good and bad input: bad input is one clear line, exit 2, no traceback."""

import json
import subprocess
import sys

import ezc3d
import numpy as np
import pytest

from myostride.cli import main


def write_c3d(path, labels, rate_hz, seconds=3.0, units=None, events=True, first_frame=0, data=None):
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100]
    c["parameters"]["POINT"]["LABELS"]["value"] = ("m1",)
    c["data"]["points"] = np.random.default_rng(0).random((4, 1, int(seconds * 100)))
    if labels:
        n = int(seconds * 100) * int(rate_hz // 100)
        c["parameters"]["ANALOG"]["RATE"]["value"] = [rate_hz]
        c["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(labels)
        c["parameters"]["ANALOG"]["UNITS"]["value"] = tuple(units or ["V"] * len(labels))
        c["data"]["analogs"] = (data if data is not None else
                                1e-4 * np.random.default_rng(1).standard_normal((1, len(labels), n)))
    if events:
        for t, ctx, lab in ((0.5, "Left", "Foot Strike"), (1.2, "Left", "Foot Off"), (1.6, "Left", "Foot Strike")):
            c.add_event(time=[0, t], context=ctx, label=lab)
    c["header"]["points"]["first_frame"] = first_frame
    c.write(str(path))
    return str(path)


def run_cli(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def assert_one_line_error(code, err, *words):
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("myostride analyze: error:"), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_missing_file(tmp_path, capsys):
    assert_one_line_error(*run_cli(["analyze", str(tmp_path / "nope.c3d")], capsys), "no such file")


def test_c3d_without_analog_channels(tmp_path, capsys):
    path = write_c3d(tmp_path / "a.c3d", [], 1000)
    assert_one_line_error(*run_cli(["analyze", path], capsys), "no analog channels")


def test_c3d_without_emg(tmp_path, capsys):
    path = write_c3d(tmp_path / "f.c3d", ["Force.Fz1", "Moment.Mx1"], 1000, units=["N", "Nmm"])
    assert_one_line_error(*run_cli(["analyze", path], capsys), "no EMG channels", "--map")


def test_c3d_at_500_hz_is_analysed_with_the_band_clipped(tmp_path, capsys):
    """Issue 11: any rate that supports the band is accepted; the upper edge is clipped and said."""
    path = write_c3d(tmp_path / "r.c3d", ["L_TA"], 500)
    out = tmp_path / "r.json"
    assert main(["analyze", path, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert any("clipped from 450 to 225 Hz" in w for w in result["warnings"]), result["warnings"]


def test_c3d_raw_emg_at_a_rate_too_low_for_the_band(tmp_path, capsys):
    path = write_c3d(tmp_path / "r.c3d", ["L_TA"], 100)
    assert_one_line_error(*run_cli(["analyze", path], capsys), "100 Hz", "pre-processed")


def test_csv_rate_too_low_for_raw_emg(tmp_path, capsys):
    path = tmp_path / "slow.csv"
    t = np.arange(2000) / 100.0
    np.savetxt(path, np.column_stack([t, np.sin(7 * t)]), delimiter=",", header="time,TA", comments="")
    assert_one_line_error(*run_cli(["analyze", str(path), "--side", "left", "--events", str(_events_csv(tmp_path))],
                                   capsys), "100 Hz")


def _events_csv(tmp_path):
    p = tmp_path / "ev.csv"
    p.write_text("side,foot_strike_s,foot_off_s\nleft,1.0,1.6\nleft,2.0,2.6\nleft,3.0,3.6\n")
    return p


def test_no_events_and_no_imu(tmp_path, capsys):
    path = tmp_path / "walk.csv"
    t = np.arange(6000) / 2000.0
    np.savetxt(path, np.column_stack([t, np.random.default_rng(2).standard_normal(6000)]), delimiter=",",
               header="time,L_TA", comments="")
    assert_one_line_error(*run_cli(["analyze", str(path)], capsys), "no gait events", "--events")


def test_corrupt_c3d(tmp_path, capsys):
    path = tmp_path / "bad.c3d"
    path.write_bytes(b"not a c3d file at all" * 10)
    assert_one_line_error(*run_cli(["analyze", str(path)], capsys), "cannot read")


def test_bad_map_names_fix(tmp_path, capsys):
    path = write_c3d(tmp_path / "m.c3d", ["EMG1"], 2000)
    assert_one_line_error(*run_cli(["analyze", path, "--map", "EMG1=left:biceps"], capsys), "unknown muscle")
    assert_one_line_error(*run_cli(["analyze", path, "--map", "EMG9=left:soleus"], capsys), "EMG9", "EMG1")
    assert_one_line_error(*run_cli(["analyze", path, "--map", "EMG1"], capsys), "LABEL=SIDE:MUSCLE")


def test_unsided_label_asks_for_side(tmp_path, capsys):
    path = write_c3d(tmp_path / "s.c3d", ["TA"], 2000)
    assert_one_line_error(*run_cli(["analyze", path], capsys), "--side")


def test_c3d_first_frame_offset_and_unmapped_report(tmp_path, capsys):
    """Events on the trial clock; a file starting at frame 50 (0.5 s) puts sample 0 at 0.5 s."""
    path = write_c3d(tmp_path / "ok.c3d", ["L_TA", "EMG2"], 2000, first_frame=50, seconds=3.0)
    out = tmp_path / "out.json"
    code = main(["analyze", path, "--json", str(out)])
    assert code == 0
    r = json.loads(out.read_text())
    assert r["source"]["time_origin_s"] == pytest.approx(0.5)
    assert r["unmapped_channels"] == ["EMG2"]
    ch = r["channels"][0]
    assert ch["label"] == "L_TA" and ch["side"] == "left" and ch["muscle"] == "tibialis_anterior"
    # Stride 0.5-1.6 s begins exactly at the first sample: inside the recording.
    assert ch["cycles"][0]["start_s"] == pytest.approx(0.5) and ch["cycles"][0]["excluded"] is None


def test_events_csv_and_plots(tmp_path, santuz_csv):
    ev = tmp_path / "ev.csv"
    ev.write_text("side,event,time_s\nright,foot_strike,1.414\nright,foot_off,2.074\nright,foot_strike,2.448\n"
                  "right,foot_off,3.115\nright,foot_strike,3.488\n")
    out = tmp_path / "s.json"
    plots = tmp_path / "plots"
    code = main(["analyze", santuz_csv, "--side", "right", "--events", str(ev), "--json", str(out),
                 "--plots", str(plots), "--map", "SO=right:soleus"])
    assert code == 0
    r = json.loads(out.read_text())
    assert r["gait"]["right"]["strides"] == 2
    pngs = sorted(p.name for p in plots.iterdir())
    assert len(pngs) == 13 and "right_soleus_SO.png" in pngs
    assert (plots / "right_soleus_SO.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "myostride.cli", "analyze", str(tmp_path / "x.csv")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "no such file" in proc.stderr
