"""EMG-BIDS export: lossless ADC codes, events on each node's clock, schema-valid, never overwriting.

The session is written by fake nodes through the real codec and raw log (tests/host_acq/acqfakes):
each node's EMG code of sample k is a known function of k, so the exported files are compared
with what the node produced, not with our own loader's output.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_acq"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from acqfakes import FakeNode, write_fake_session  # noqa: E402

from myostride import export_bids  # noqa: E402
from myostride.cli import main  # noqa: E402
from myostride.errors import UserError  # noqa: E402
from myostride.session import load_session  # noqa: E402

pytest.importorskip("edfio")
mne_bids = pytest.importorskip("mne_bids")
bids_schema_check = pytest.importorskip("bids_schema_check")

START_US = 10_000_000
FS = 2000
NV = 500
C3D_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "c3d"


def make_session(path, seconds=3.0):
    nodes = [FakeNode(1, offset_us=3_000_000, ppm=80.0), FakeNode(2, offset_us=5_123_457, ppm=-60.0)]
    write_fake_session(path / "raw.log", nodes, seconds=seconds, start_us=START_US, lose={1: {10, 11, 12}})
    return [FakeNode(1, offset_us=3_000_000, ppm=80.0), FakeNode(2, offset_us=5_123_457, ppm=-60.0)]


def fake_analysis():
    return {"source": {"kind": "session"},
            "events": {"source": "imu",
                       "left": {"foot_strike_s": [0.5, 1.6], "foot_off_s": [1.1, 2.2]},
                       "right": {"foot_strike_s": [1.05, 2.15], "foot_off_s": [0.6]}},
            "channels": [{"label": "node01", "quality": {"usable": True, "reasons": []}},
                         {"label": "node02", "quality": {"usable": False, "reasons": ["dominated by mains hum"]}}]}


def export(session_dir, root, subject="P001", **kw):
    session = load_session(session_dir)
    specs = export_bids.session_trial(session, kw.pop("analysis", fake_analysis()),
                                      export_bids.read_board("myostride-ref-s3"), None, 50.0)
    target = export_bids.BidsTarget(root, subject, kw.pop("ses", None), run=kw.pop("run", None))
    return export_bids.write_trial(target, specs), target


def read(root, subject, run, node, ses=None):
    bp = mne_bids.BIDSPath(root=root, subject=subject, session=ses, task="walk", run=run,
                           recording="node%02d" % node, datatype="emg", suffix="emg", extension=".bdf")
    return mne_bids.read_raw_bids(bp, verbose="ERROR")


def snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


def test_every_sample_is_the_nodes_adc_code_and_events_sit_on_its_clock(tmp_path):
    sdir = tmp_path / "s"
    sdir.mkdir()
    nodes = make_session(sdir)
    session = load_session(sdir)
    root = tmp_path / "bids"
    export(sdir, root)
    analysis = fake_analysis()
    for node, ch in zip(nodes, session.channels):
        raw = read(root, "P001", 1, node.node_id)
        assert raw.info["sfreq"] == FS and raw.get_channel_types() == ["emg"]
        digital = raw.get_data()[0] * 1e6 / (NV / 1000.0)  # volts -> codes
        assert np.allclose(digital, np.rint(digital), atol=1e-6)
        digital = np.rint(digital).astype(np.int64)
        k_first = int(np.ceil(node.node_us(START_US) * FS / 1e6))
        k = np.asarray(ch.node_k)
        assert k[0] == k_first
        # Every recorded sample is the node's own code, at its own sample index.
        expected = np.array([int(node.code(kk)) for kk in k])
        assert np.array_equal(digital[k - k_first], expected)
        # Samples the radio lost are the gap marker, never a value; so is the padding.
        missing = np.setdiff1d(np.arange(len(digital)), k - k_first)
        assert np.all(digital[missing] == export_bids.GAP_CODE)
        descriptions = list(raw.annotations.description)
        onsets = raw.annotations.onset
        if node.node_id == 1:
            assert len(k) < k[-1] - k[0] + 1  # frames 10-12 were lost
            gap = [i for i, d in enumerate(descriptions) if d == "gap"]
            assert len(gap) == 1
            hole = np.flatnonzero(np.diff(k) > 1)[0]
            assert onsets[gap[0]] == pytest.approx((k[hole] + 1 - k_first) / FS, abs=1e-6)
            assert raw.annotations.duration[gap[0]] == pytest.approx((k[hole + 1] - k[hole] - 1) / FS, abs=1e-6)
        # Gait events: session time -> this node's sample clock (truth: the fake node's crystal).
        for side in ("left", "right"):
            for key, name in (("foot_strike_s", "foot_strike"), ("foot_off_s", "foot_off")):
                got = sorted(o for o, d in zip(onsets, descriptions) if d == "%s_%s" % (name, side))
                truth = sorted((node.node_us(START_US + t * 1e6) * FS / 1e6 - k_first) / FS
                               for t in analysis["events"][side][key])
                assert len(got) == len(truth)
                assert np.max(np.abs(np.array(got) - truth)) < 1e-3  # within the clock sync (1 ms)
    tsv = (root / "sub-P001/emg/sub-P001_task-walk_run-1_recording-node02_channels.tsv").read_text().splitlines()
    row = dict(zip(tsv[0].split("\t"), tsv[1].split("\t")))
    assert row["status"] == "bad" and row["status_description"] == "dominated by mains hum"
    assert row["target_muscle"] == "right tibialis anterior" and row["units"] == "uV"
    sidecar = json.loads((root / "sub-P001/emg/sub-P001_task-walk_run-1_recording-node01_emg.json").read_text())
    assert sidecar["EMGPlacementScheme"] == "Other" and "SENIAM" in sidecar["EMGPlacementSchemeDescription"]
    assert sidecar["PowerLineFrequency"] == 50.0 and sidecar["EMGChannelCount"] == 1
    assert sidecar["SoftwareFilters"] != "n/a" and sidecar["HardwareFilters"] != "n/a"
    assert (root / "participants.tsv").read_text() == "participant_id\nsub-P001\n"
    assert bids_schema_check.check_dataset(root) == []


def test_schema_check_can_fail(tmp_path):
    sdir = tmp_path / "s"
    sdir.mkdir()
    make_session(sdir, seconds=1.0)
    root = tmp_path / "bids"
    export(sdir, root)
    side = root / "sub-P001/emg/sub-P001_task-walk_run-1_recording-node01_emg.json"
    data = json.loads(side.read_text())
    data["EMGPlacementScheme"] = "SENIAM"  # not in the schema's enum: "Other" + a description is
    del data["EMGReference"]
    side.write_text(json.dumps(data))
    (root / "sub-P001/emg/notes.txt").write_text("x")
    problems = bids_schema_check.check_dataset(root)
    assert any("EMGPlacementScheme" in p for p in problems)
    assert any("EMGReference" in p for p in problems)
    assert any("notes.txt" in p for p in problems)


def test_trials_and_sessions_of_one_patient_share_a_dataset_without_overwriting(tmp_path):
    sdir = tmp_path / "s"
    sdir.mkdir()
    make_session(sdir, seconds=1.0)
    root = tmp_path / "bids"
    export(sdir, root)
    _, t2 = export(sdir, root)
    assert t2.run == 2
    _, t3 = export(sdir, root, ses="visit2")
    assert t3.run == 1
    _, t4 = export(sdir, root, subject="P002")
    assert t4.run == 1
    assert (root / "participants.tsv").read_text() == "participant_id\nsub-P001\nsub-P002\n"
    assert len(list(root.rglob("*_emg.bdf"))) == 8
    before = snapshot(root)
    with pytest.raises(UserError, match="already has sub-P001 task-walk run-2"):
        export(sdir, root, run=2)
    assert snapshot(root) == before
    assert bids_schema_check.check_dataset(root) == []
    raw = read(root, "P001", 1, 2, ses="visit2")
    assert raw.n_times > 0


def test_bad_output_folders_get_one_line_and_change_nothing(tmp_path, capsys):
    sdir = tmp_path / "s"
    sdir.mkdir()
    make_session(sdir, seconds=1.0)
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    assert main(["export", str(sdir), "--format", "bids", "--out", str(blocker / "bids"), "--subject", "P1",
                 "--no-events"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot write" in err
    assert blocker.read_text() == "keep me"
    other = tmp_path / "not-bids"
    other.mkdir()
    (other / "mine.txt").write_text("x")
    assert main(["export", str(sdir), "--format", "bids", "--out", str(other), "--subject", "P1",
                 "--no-events"]) == 2
    assert "not a BIDS dataset" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["mine.txt"]
    assert main(["export", str(sdir), "--format", "bids", "--out", str(tmp_path / "b")]) == 2
    assert "--subject" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    # A staging folder never stays behind.
    assert not list(tmp_path.glob(".myostride-bids-*"))


def test_cli_writes_a_dataset_and_refuses_a_taken_run(tmp_path, capsys):
    sdir = tmp_path / "s"
    sdir.mkdir()
    make_session(sdir, seconds=1.0)
    out = tmp_path / "bids"
    args = ["export", str(sdir), "--format", "bids", "--out", str(out), "--subject", "P-001", "--no-events"]
    assert main(args) == 0
    assert "sub-P001 task-walk run-1" in capsys.readouterr().out
    before = snapshot(out)
    assert main(args + ["--run", "1"]) == 2
    assert "already has" in capsys.readouterr().err
    assert snapshot(out) == before


@pytest.mark.skipif(not (C3D_DIR / "pig_flatfoot_hole.c3d").exists(), reason="shared lab C3D files not found")
def test_lab_c3d_becomes_one_file_with_its_stored_events(tmp_path):
    from myostride.analysis import load_input

    path = C3D_DIR / "pig_flatfoot_hole.c3d"
    rec = load_input(str(path))
    specs = export_bids.c3d_trial(rec)
    root = tmp_path / "bids"
    export_bids.write_trial(export_bids.BidsTarget(root, "LAB1"), specs)
    bp = mne_bids.BIDSPath(root=root, subject="LAB1", task="walk", run=1, datatype="emg", suffix="emg",
                           extension=".bdf")
    raw = mne_bids.read_raw_bids(bp, verbose="ERROR")
    data = raw.get_data() * 1e6
    t0 = min(ch.t_s[0] for ch in rec.emg)
    for i, ch in enumerate(rec.emg):
        step = specs[0]["channels"][i]["physical_range"][1] / export_bids.C3D_DIGITAL
        got = data[i, : len(ch.uv)]
        assert np.max(np.abs(got - ch.uv)) <= step * 0.5 + 1e-9 * np.max(np.abs(ch.uv))
    stored = sorted(t - t0 for side in rec.events.values() for ts in side.values() for t in ts)
    ann = sorted(o for o, d in zip(raw.annotations.onset, raw.annotations.description) if d.startswith("foot_"))
    assert len(ann) == len(stored) == 10
    assert np.max(np.abs(np.array(ann) - stored)) < 1e-6
    assert bids_schema_check.check_dataset(root) == []
