"""`myostride batch` on a small archive, on a local Dask cluster with 2 workers.

The archive mixes simulated lab exports (several trials, one without any event source, one
truncated) with a real lab file when ../shared/data is present; every input ends in exactly one of
the files or failures tables, with the one-line reason, and a re-run skips everything.
"""

import json
import shutil
from pathlib import Path

import pytest

from myosim.labfile import write_trial_c3d
from myostride import cli
from myostride.batch import tables

REAL_C3D = Path(__file__).resolve().parents[3] / "shared" / "data" / "c3d" / "pig_flatfoot_hole.c3d"
pytestmark = pytest.mark.xdist_group("batch")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    (root / "site_a" / "patient1").mkdir(parents=True)
    (root / "site_b").mkdir()
    for seed in (1, 2):
        write_trial_c3d(root / "site_a" / "patient1" / ("walk%d.c3d" % seed), seconds=6.0, channels=4, seed=seed)
    write_trial_c3d(root / "site_b" / "noevents.c3d", seconds=6.0, channels=4, seed=3, with_events=False)
    good = root / "site_a" / "patient1" / "walk1.c3d"
    data = good.read_bytes()
    (root / "site_b" / "truncated.c3d").write_bytes(data[: len(data) // 2])
    (root / "site_b" / "corrupt.c3d").write_bytes(b"\x02\x50" + bytes(range(256)) * 8)
    (root / "site_b" / "notes.txt").write_text("not an input")
    if REAL_C3D.exists():
        shutil.copy(REAL_C3D, root / "site_b" / "real_pig.c3d")
    return root


def run_batch(*argv):
    return cli.main(["batch", *map(str, argv), "--workers", "2", "--no-progress"])


def test_batch_tables_failures_and_resume(archive, tmp_path, capsys):
    out = tmp_path / "results"
    assert run_batch(archive, "--out", out) == 0
    summary = json.loads((out / "batch.json").read_text())
    n_inputs = 6 if REAL_C3D.exists() else 5
    assert summary["inputs"] == n_inputs and summary["skipped"] == 0
    files = tables.read_table(out, "files").to_pylist()
    failures = tables.read_table(out, "failures").to_pylist()
    assert summary["analysed"] == len(files) and summary["failed"] == len(failures)
    assert len(files) + len(failures) == n_inputs  # nothing skipped silently

    by_name = {Path(r["path"]).name: r for r in failures}
    assert set(by_name) == {"noevents.c3d", "truncated.c3d", "corrupt.c3d"}
    assert "event" in by_name["noevents.c3d"]["reason"].lower()
    assert by_name["noevents.c3d"]["error_kind"] == "input"
    for name in ("truncated.c3d", "corrupt.c3d"):
        assert "\n" not in by_name[name]["reason"] and by_name[name]["error_kind"] == "input"

    analysed = {Path(r["path"]).name: r for r in files}
    assert {"walk1.c3d", "walk2.c3d"} <= set(analysed)
    walk = analysed["walk1.c3d"]
    assert walk["kind"] == "c3d" and walk["event_source"] == "stored" and walk["emg_rates_hz"] == [2000.0]
    assert walk["strides_left"] >= 3 and walk["strides_right"] >= 3
    assert json.loads(walk["settings_json"])["powerline"] == "interpolate"

    channels = tables.read_table(out, "channels").to_pylist()
    walk_channels = [c for c in channels if c["key"] == walk["key"]]
    assert len(walk_channels) == walk["channels_analysed"] == 4
    assert {c["side"] for c in walk_channels} == {"left", "right"}
    assert all(c["quality_call"] and isinstance(c["flags"], list) for c in walk_channels)

    strides = tables.read_table(out, "strides").to_pylist()
    walk_strides = [s for s in strides if s["key"] == walk["key"]]
    per_channel = {}
    for s in walk_strides:
        per_channel.setdefault(s["label"], []).append(s)
    for c in walk_channels:  # one stride row per cycle of the channel, in order
        rows = per_channel[c["label"]]
        assert [r["stride"] for r in rows] == list(range(len(rows)))
        assert len(rows) == c["strides_used"] + c["strides_excluded"]
    used = [s for s in walk_strides if s["excluded"] is None]
    assert used and all(0.0 <= s["active_share"] <= 1.0 for s in used)
    for s in used:
        assert len(s["onset_pct"]) == len(s["offset_pct"]) == len(s["onset_s"]) == len(s["offset_s"])
        assert all(s["start_s"] - 1e-3 <= a <= b <= s["end_s"] + 1e-3 for a, b in zip(s["onset_s"], s["offset_s"]))
    assert any(s["onset_pct"] for s in used)

    # A re-run skips every input, failures included; --force does them again.
    capsys.readouterr()
    assert run_batch(archive, "--out", out) == 0
    again = json.loads((out / "batch.json").read_text())
    assert again["skipped"] == n_inputs and again["analysed"] == again["failed"] == 0
    assert len(tables.read_table(out, "files")) == len(files)
    assert run_batch(archive, "--out", out, "--force", "--glob", "site_a/**/*.c3d") == 0
    forced = json.loads((out / "batch.json").read_text())
    assert forced["inputs"] == 2 and forced["analysed"] == 2 and forced["skipped"] == 0
    assert len(tables.read_table(out, "files")) == len(files)  # replaced, not duplicated


def test_batch_manifest_maps_per_file(archive, tmp_path):
    """A manifest row can map a file's channels itself; unknown columns are refused with one line."""
    manifest = tmp_path / "inputs.csv"
    walk = archive / "site_a" / "patient1" / "walk2.c3d"
    manifest.write_text("path,map,side\n%s,Right Tibialis Anterior=left:soleus,\n" % walk)
    out = tmp_path / "results"
    assert run_batch("--manifest", manifest, "--out", out) == 0
    channels = tables.read_table(out, "channels").to_pylist()
    remapped = [c for c in channels if c["label"] == "Right Tibialis Anterior"]
    assert remapped and remapped[0]["side"] == "left" and remapped[0]["muscle"] == "soleus"

    bad = tmp_path / "bad.csv"
    bad.write_text("path,mapping\n%s,x\n" % walk)
    assert run_batch("--manifest", bad, "--out", out) == 2


def test_batch_bad_input_one_line(tmp_path, capsys):
    assert run_batch(tmp_path / "nowhere", "--out", tmp_path / "r") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such folder" in err[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_batch(empty, "--out", tmp_path / "r") == 2
    assert "no session folder or .c3d file" in capsys.readouterr().err
