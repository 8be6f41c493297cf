"""Fixtures for the analysis tests: the shared real recordings and simulated trials."""

import zipfile
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SANTUZ_EMG = DATA / "santuz_treadmill" / "ID0012_TW_01_raw_emg.csv"
KTK_ZIP = DATA / "ktk_walk" / "walk.c3d.zip"


@pytest.fixture(scope="session")
def santuz_csv():
    if not SANTUZ_EMG.exists():
        pytest.skip("shared recording %s not present" % SANTUZ_EMG)
    return str(SANTUZ_EMG)


@pytest.fixture(scope="session")
def ktk_c3d(tmp_path_factory):
    """walk.c3d unzipped into a temporary folder (never committed: 4.8 MB)."""
    if not KTK_ZIP.exists():
        pytest.skip("shared recording %s not present" % KTK_ZIP)
    out = tmp_path_factory.mktemp("ktk")
    with zipfile.ZipFile(KTK_ZIP) as zf:
        zf.extract("walk.c3d", out)
    return str(out / "walk.c3d")


def synthetic_recording(condition="normal", seconds=16.0, seed=3, snr_db=20.0, hum_hz=50, muscles=None,
                        fs_hz=2000.0):
    """(Recording with stored events, truth) from myosim.emg.synthesize_trial."""
    from myosim.emg import synthesize_trial
    from myostride.analysis.channels import EmgInput, Recording

    sig, events, truth = synthesize_trial(condition, seconds, seed=seed, fs_hz=fs_hz, snr_db=snr_db, hum_hz=hum_hz,
                                          muscles=muscles)
    rec = Recording("session", "synthetic", 0.0)
    for (side, muscle), x in sig.items():
        t = np.arange(len(x)) / fs_hz
        rec.emg.append(EmgInput("%s_%s" % (side[0].upper(), muscle), fs_hz, t, x, side=side, muscle=muscle))
    rec.events = events
    return rec, truth


@pytest.fixture
def make_synthetic():
    return synthetic_recording
