"""`myostride sim` options: help, validation, files-only runs, folder safety."""

import json

import pytest

from myostride.cli import main


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_documents_every_option(capsys):
    code, out, _ = _run(["sim", "--help"], capsys)
    assert code == 0
    for opt in ("--nodes", "--condition", "--seconds", "--seed", "--loss", "--drift-ppm", "--hum", "--snr-db",
                "--realtime", "--speed", "--out", "--footswitch", "--lead-off", "--saturation", "--files-only"):
        assert opt in out
    for cond in ("normal", "crouch", "equinus", "stiff-knee", "hemiplegic"):
        assert cond in out


@pytest.mark.parametrize("argv, words", [
    (["--nodes", "13"], "--nodes must be 1-12, got 13"),
    (["--nodes", "0"], "--nodes must be 1-12"),
    (["--condition", "limp"], "unknown condition 'limp'; use one of: normal, crouch"),
    (["--seconds", "-3"], "--seconds must be more than 0"),
    (["--seconds", "abc"], "--seconds must be a number"),
    (["--hum", "55"], "invalid choice: 55"),
    (["--loss", "150"], "--loss must be at least 0 and at most 99"),
    (["--drift-ppm", "-1"], "--drift-ppm must be at least 0"),
    (["--realtime", "--speed", "4"], "not allowed with argument --realtime"),
])
def test_invalid_options_exit_2_with_a_clear_message(argv, words, capsys, tmp_path):
    code, out, err = _run(["sim", "--files-only", "--out", str(tmp_path / "o")] + argv, capsys)
    assert code == 2
    assert words in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_files_only_writes_nodes_and_truth(capsys, tmp_path):
    out = tmp_path / "run"
    code, text, err = _run(["sim", "--files-only", "--out", str(out), "--nodes", "3", "--seconds", "4",
                            "--condition", "stiff-knee", "--seed", "9", "--lead-off", "1"], capsys)
    assert code == 0, err
    assert "truth" in text
    truth = json.loads((out / "truth.json").read_text())
    assert truth["condition"] == "stiff-knee" and truth["seed"] == 9 and len(truth["nodes"]) == 3
    assert [f["kind"] for f in truth["faults"]] == ["lead_off"]
    assert sorted(p.name for p in out.iterdir()) == ["node01", "node02", "node03", "truth.json"]
    # a second run into the same simulation folder replaces it (fewer nodes: old node dirs go);
    # the earlier truth is kept under previous/
    old_truth = (out / "truth.json").read_text()
    code, _, err = _run(["sim", "--files-only", "--out", str(out), "--nodes", "1", "--seconds", "2"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["node01", "previous", "truth.json"]
    kept = list((out / "previous").iterdir())
    assert len(kept) == 1 and kept[0].read_text() == old_truth


def test_refuses_a_folder_that_is_not_a_simulation(capsys, tmp_path):
    (tmp_path / "session.json").write_text("{}")
    code, _, err = _run(["sim", "--files-only", "--out", str(tmp_path), "--seconds", "1"], capsys)
    assert code == 2
    assert "not a simulation folder" in err
    assert (tmp_path / "session.json").read_text() == "{}"
