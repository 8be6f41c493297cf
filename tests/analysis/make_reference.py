"""Reference analysis JSON for test_an_reference.py: what the analysis gives on the real lab files
and a few simulated recordings, stored so that a change meant only for speed is shown to leave
every reported value unchanged.

Regenerate ONLY when a change of results is intended and has been reviewed (the diff of the
references is then part of that review):

    PYTHONPATH=host:protocol:simulators python tests/analysis/make_reference.py

Each case is stored as gzipped canonical JSON (sorted keys) in reference/<case>.json.gz, with the
volatile fields (input paths) removed; a file the analysis refuses stores its one-line message.
"""

import gzip
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference"
DATA = HERE.parents[2] / "shared" / "data"
C3D = DATA / "c3d"
KTK_MAP = ["Sensor 7.IM EMG7=right:soleus", "Sensor 5.IM EMG5=left:tibialis_anterior"]
C3D_FILES = ("pig_flatfoot_hole", "c3dorg_sub_labels", "bts_1123x01", "codamotion_ademo1", "vicon_functionalwalk",
             "motonms_unipd_walking1")
# (name, synthesize_trial keywords): different conditions, noise, hum and rates.
SIMULATED = (
    ("sim_normal_s1", dict(condition="normal", seconds=20.0, seed=1, snr_db=20.0, hum_hz=50)),
    ("sim_crouch_s5_lowsnr_60hz", dict(condition="crouch", seconds=15.0, seed=5, snr_db=8.0, hum_hz=60)),
    ("sim_hemiplegic_s9_1khz_nohum", dict(condition="hemiplegic", seconds=12.0, seed=9, snr_db=30.0, hum_hz=None,
                                          fs_hz=1000.0)),
)


def _all_maps(path):
    """--map items putting every EMG channel of a file on a muscle (as test_an_real_quality.py does)."""
    from myostride.analysis import load_input
    from myostride.muscles import MUSCLES
    rec = load_input(path, side="right")
    labels = [ch.label for ch in list(rec.emg) + list(rec.unmapped_emg)]
    return ["%s=%s:%s" % (lab, ("left", "right")[k % 2], MUSCLES[(k // 2) % len(MUSCLES)])
            for k, lab in enumerate(labels)]


def _simulated(kw):
    """Recording from this folder's conftest.synthetic_recording (loaded by path: under pytest,
    `import conftest` may give another folder's conftest)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("analysis_tests_conftest", HERE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_recording(**kw)[0]


def _simulated_damaged():
    """A simulated recording with what the lab files lack: a cut-out second (implicit gap), NaN
    samples, a declared lead-off span, a channel clipped at its extremes and a short segment."""
    from myostride.analysis.channels import EmgInput
    rec = _simulated(dict(condition="normal", seconds=20.0, seed=4, snr_db=15.0, hum_hz=50,
                          muscles=["tibialis_anterior", "soleus", "rectus_femoris"]))
    chans = []
    for k, ch in enumerate(rec.emg):
        t, x, kw = ch.t_s.copy(), ch.uv.copy(), {}
        if k == 0:
            keep = (t < 8.0) | (t >= 9.0)
            t, x = t[keep], x[keep]
        elif k == 1:
            x[(t >= 12.0) & (t < 12.3)] = np.nan
        elif k == 2:
            kw["lead_off"] = [(3.0, 5.0)]
        elif k == 3:
            lim = np.percentile(np.abs(x), 99.0)
            x = np.clip(x, -lim, lim)
        elif k == 4:
            keep = (t < 15.0) | ((t >= 15.5) & (t < 15.7)) | (t >= 16.2)
            t, x = t[keep], x[keep]
        chans.append(EmgInput(ch.label, ch.fs_hz, t, x, side=ch.side, muscle=ch.muscle, **kw))
    rec.emg = chans
    return rec


def _bts_events_csv(tmp):
    """An events CSV for the BTS file (it stores none): strides of 0.82 s, the period its
    envelopes repeat at, stance 60 %, the left leg half a stride later."""
    rows = ["side,event,time_s"]
    for side, t0 in (("right", 0.30), ("left", 0.71)):
        for k in range(5):
            rows += ["%s,foot_strike,%.3f" % (side, t0 + 0.82 * k), "%s,foot_off,%.3f" % (side, t0 + 0.82 * k + 0.49)]
    path = Path(tmp) / "bts_events.csv"
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _labfile(tmp):
    from myosim.labfile import write_trial_c3d
    path = Path(tmp) / "sim_lab.c3d"
    write_trial_c3d(str(path), seconds=10.0, channels=8, seed=2)
    return str(path)


def cases(tmp):
    """[(name, loader)] where loader() returns a Recording; only the inputs present here."""
    from myostride.analysis import load_input
    out = []
    for name in C3D_FILES:
        path = C3D / (name + ".c3d")
        if path.exists():
            out.append((name, lambda p=str(path): load_input(p, side="right")))
            out.append((name + "_all_mapped", lambda p=str(path): load_input(p, side="right", maps=_all_maps(p))))
    bts = C3D / "bts_1123x01.c3d"
    if bts.exists():
        out.append(("bts_1123x01_events_csv", lambda: load_input(str(bts), events_csv=_bts_events_csv(tmp))))
    ktk = DATA / "ktk_walk" / "walk.c3d.zip"
    if ktk.exists():
        with zipfile.ZipFile(ktk) as zf:
            zf.extract("walk.c3d", tmp)
        path = str(Path(tmp) / "walk.c3d")
        out.append(("ktk_walk", lambda: load_input(path, maps=KTK_MAP)))
        out.append(("ktk_walk_all_mapped", lambda: load_input(path, side="right", maps=_all_maps(path))))
    santuz = DATA / "santuz_treadmill" / "ID0012_TW_01_raw_emg.csv"
    if santuz.exists():
        out.append(("santuz_treadmill", lambda: load_input(str(santuz), side="right")))
    for name, kw in SIMULATED:
        out.append((name, lambda kw=kw: _simulated(kw)))
    out.append(("sim_damaged", _simulated_damaged))
    out.append(("sim_labfile", lambda: load_input(_labfile(tmp))))
    return out


def _strip(obj):
    """The JSON without volatile fields (paths of the input file)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "path"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def analysis_json(loader):
    """Canonical analysis result of one case: the stripped JSON, or {"refused": message}."""
    from myostride.analysis import pipeline
    from myostride.errors import UserError
    try:
        result = _strip(pipeline.analyse(loader()))
    except UserError as e:
        result = {"refused": str(e)}
    return json.loads(json.dumps(result, sort_keys=True))


def write(name, result):
    REFERENCE.mkdir(exist_ok=True)
    text = json.dumps(result, sort_keys=True, separators=(",", ":")).encode()
    with gzip.GzipFile(REFERENCE / (name + ".json.gz"), "wb", mtime=0) as f:
        f.write(text)


def read(name):
    path = REFERENCE / (name + ".json.gz")
    if not path.exists():
        return None
    with gzip.open(path, "rb") as f:
        return json.loads(f.read())


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, loader in cases(tmp):
            result = analysis_json(loader)
            write(name, result)
            print("%-40s %s" % (name, "refused: " + result["refused"][:60] if "refused" in result
                                else "%d channels" % len(result["channels"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
