"""The `bluetooth` emulation's API under the real `micropython` interpreter, against a running air."""

import upyharness
from myosim.world import World
from sim_radio_helpers import HERE, cleanup, make_world


def test_bluetooth_api_cases_under_micropython(monkeypatch, tmp_path):
    d, wj, njs = make_world(1, base=tmp_path / "w")
    try:
        with World([], wj, {}, firmware_dir=HERE, script="upy_probe.py"):
            monkeypatch.setenv("MYOSTRIDE_SIM_NODE", str(njs[0]))
            upyharness.run_upy_tests(["upy_bt_cases"], path=["simulators/upy", "protocol", "tests/sim_radio"], label="bluetooth emulation")
    finally:
        cleanup(d)


def test_active_without_a_world_says_what_is_missing(monkeypatch):
    monkeypatch.delenv("MYOSTRIDE_SIM_NODE", raising=False)
    proc = upyharness.run_upy(["-c", "import bluetooth\nbluetooth.BLE().active(True)"], path=["simulators/upy"], timeout=30)
    assert proc.returncode != 0
    assert "MYOSTRIDE_SIM_NODE" in proc.stdout + proc.stderr


def test_emulation_compiles_with_mpy_cross(tmp_path):
    res = upyharness.mpy_cross(upyharness.ROOT / "simulators" / "upy" / "bluetooth.py", out=tmp_path / "bluetooth.mpy")
    assert res.returncode == 0, res.stderr
