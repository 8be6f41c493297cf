"""The whole back end on simulated walking: synthesised EMG -> our C3D export -> the analysis
package's C3D reader and pipeline -> summary -> HTML + PDF report."""

from types import SimpleNamespace

import numpy as np
import pytest

from myosim.emg import synthesize_trial
from myostride.analysis import load_input, pipeline
from myostride.export import write_c3d
from myostride.report import write_report
from myostride.study.summary import build_summary

import report_fixtures as rf

FS = 2000.0
MUSCLES = (("right", "tibialis_anterior"), ("right", "soleus"), ("left", "gastrocnemius_medialis"),
           ("left", "biceps_femoris"))


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline")
    signals, events, _truth = synthesize_trial("equinus", seconds=12.0, seed=4, fs_hz=int(FS), muscles=MUSCLES)
    channels = []
    for i, ((side, muscle), uv) in enumerate(sorted(signals.items())):
        t = np.arange(len(uv)) / FS
        channels.append(SimpleNamespace(label="node%02d" % (i + 1), side=side, muscle=muscle, fs_hz=FS, t_s=t,
                                        uv=uv, gaps=[], lead_off=[]))
    c3d_path = write_c3d(out / "trial.c3d", channels, events)
    analysis = pipeline.analyse(load_input(str(c3d_path)))
    return out, analysis, events


def test_c3d_export_feeds_the_pipeline(analysed):
    _, analysis, events = analysed
    assert analysis["schema"] == "myostride.analysis/1" and analysis["events"]["source"] == "stored"
    assert analysis["events"]["right"]["foot_strike_s"] == pytest.approx(events["right"]["foot_strike_s"], abs=1e-3)
    assert sorted((ch["side"], ch["muscle"]) for ch in analysis["channels"]) == sorted(MUSCLES)
    assert analysis["unmapped_channels"] == []


def test_summary_and_report_from_real_pipeline_output(analysed):
    out, analysis, _ = analysed
    summary = build_summary(analysis, rf.clinical(), rf.session_meta(len(MUSCLES)))
    usable = [ch for ch in analysis["channels"] if ch["quality"]["usable"]]
    assert summary["muscles_tested"] == len(usable) >= 3
    assert summary["activities"]["strides_analysed"]["right"] == analysis["gait"]["right"]["strides"] >= 5
    assert [ln["code"] for ln in summary["coding"]["lines"]] == ["96002"]
    html_path, pdf_path = write_report(summary, analysis, out)
    assert html_path.read_text().count("data:image/png;base64,") == len(MUSCLES)
    assert pdf_path.read_bytes()[:5] == b"%PDF-"
