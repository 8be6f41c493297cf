import json

from myostride.cli import main

import report_fixtures as rf

LAYOUT = rf.DEFAULT_LAYOUT[:2]


def write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_report_from_analysis_json(tmp_path, capsys):
    analysis = write(tmp_path / "analysis.json", rf.analysis(layout=LAYOUT))
    clinical = write(tmp_path / "clinical.json", rf.clinical())
    out = tmp_path / "out"
    assert main(["report", str(analysis), "--clinical", str(clinical), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["schema"] == "myostride.summary/1" and summary["muscles_tested"] == 2
    assert (out / "report.html").stat().st_size > 10000
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    printed = capsys.readouterr().out
    assert "report.pdf" in printed and "96002 x1" in printed
    # Never overwrite a report silently.
    assert main(["report", str(analysis), "--clinical", str(clinical), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["report", str(analysis), "--clinical", str(clinical), "--out", str(out), "--force"]) == 0


def test_bad_inputs_give_one_line_and_exit_2(tmp_path, capsys):
    analysis = write(tmp_path / "analysis.json", rf.analysis(layout=LAYOUT))
    bad_clinical = write(tmp_path / "clinical.json", rf.clinical(icd10=["G8O.1"], purpose="curiosity"))
    out = tmp_path / "out"
    assert main(["report", str(analysis), "--clinical", str(bad_clinical), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "icd10[0]" in err and "purpose" in err
    assert not out.exists()

    good = write(tmp_path / "good.json", rf.clinical())
    not_analysis = write(tmp_path / "other.json", {"schema": "something/1"})
    assert main(["report", str(not_analysis), "--clinical", str(good), "--out", str(out)]) == 2
    assert "not a myostride analysis" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing"), "--clinical", str(good), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_export_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "x.c3d"
    target.write_bytes(b"keep me")
    assert main(["export", str(tmp_path / "session"), "--format", "c3d", "--out", str(target)]) == 2
    assert "--force" in capsys.readouterr().err and target.read_bytes() == b"keep me"
