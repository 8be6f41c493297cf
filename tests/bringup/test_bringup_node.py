"""`myostride node` over USB serial (virtual board) and BLE (simulated node), and its config rules."""

import json

import pytest
from bringup_fixtures import cli, sim_node
from upyharness import run_upy

from myostride.bringup import nodeconfig
from myostride.bringup.devboard import DevBoard

BASE = {"node_id": 3, "label": "L TA", "emg_hz": 2000, "highpass_hz": 20, "highpass_order": 2, "powerline_hz": 0, "imu_hz": 104}
VARIANTS = [
    ("node_id", v) for v in (0, 1, 254, 255, True, "3")
] + [
    ("label", v) for v in ("", "x" * 16, "x" * 17, "\u00e9" * 8, "\u00e9" * 9, 5)
] + [("emg_hz", v) for v in (500, 1000, 1926, 2000, 2000.0)] + [
    ("highpass_hz", v) for v in (9, 10, 15, 20, 21)
] + [("highpass_order", v) for v in (1, 2, 3, 4)] + [
    ("powerline_hz", v) for v in (0, 50, 55, 60, -50)
] + [("imu_hz", v) for v in (0, 100, 104, 208, 416)]


def test_host_rules_agree_with_the_firmware_config_check():
    """Every variant: the host accepts it exactly when firmware/config.py (under micropython) does."""
    cfgs = [dict(BASE, **{k: v}) for k, v in VARIANTS] + [{k: v for k, v in BASE.items() if k != "imu_hz"}, dict(BASE, extra=1)]
    code = (
        "import json, config\n"
        "class B:\n default_node_id=1\n default_emg_hz=2000\n default_imu_hz=104\n emg_rates=(1000, 2000)\n imu_rates=(104, 208)\n"
        "for c in json.loads(%r):\n print(json.dumps(config.problem(c, B())))\n" % json.dumps(cfgs)
    )
    proc = run_upy(["-c", code], path=["firmware", "protocol"], timeout=60)
    assert proc.returncode == 0, proc.stderr
    firmware_says = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(firmware_says) == len(cfgs)
    rules = nodeconfig.Rules.from_board({"emg": {"rates_hz": [1000, 2000]}, "imu": {"rates_hz": [104, 208]}})
    for cfg, fw in zip(cfgs, firmware_says):
        host = rules.problems(cfg) + ["missing %s" % k for k in nodeconfig.KEYS if k not in cfg]
        assert (fw is None) == (not host), (cfg, fw, host)
    # and the host's defaults are the firmware's
    assert rules.defaults() == dict(BASE, node_id=1, label="")


def test_refusals_name_the_allowed_values():
    rules = nodeconfig.Rules()
    with pytest.raises(Exception, match=r"powerline_hz 55 is not allowed; allowed: 0 \(off\), 50 or 60"):
        rules.validate({"powerline_hz": 55})
    with pytest.raises(Exception, match=r"highpass_hz 25 .* 10-20.*emg_hz 1926 .*1000 or 2000"):
        rules.validate({"highpass_hz": 25, "emg_hz": 1926})


@pytest.fixture
def flashed_board(tmp_path):
    with DevBoard(tmp_path / "fs", run_main=False) as b:
        rc, out, err = cli("flash", "--port", b.port, "--node-id", 3, "--label", "L TA")
        assert rc == 0, err
        yield b, tmp_path / "fs"


def test_serial_config_then_info_round_trip(flashed_board):
    board, fs = flashed_board
    rc, out, err = cli("node", "config", "--port", board.port, "--node-id", 9, "--label", "R VL",
                       "--powerline-hz", 60, "--highpass-order", 4)
    assert rc == 0, err
    on_node = json.loads((fs / "config.json").read_text())
    assert on_node == dict(BASE, node_id=9, label="R VL", powerline_hz=60, highpass_order=4)
    rc, out, err = cli("node", "info", "--port", board.port)
    assert rc == 0, err
    assert "firmware        0.1.0" in out and "myostride-ref-s3" in out and "REJECTED" not in out
    assert "'R VL'" in out and "powerline_hz    60" in out
    # The virtual board has no battery ADC: said plainly, not invented.
    assert "battery         unknown" in out
    for bad, allowed in ((["--powerline-hz", 55], "0 (off), 50 or 60"), (["--emg-hz", 1926], "1000 or 2000"),
                         (["--node-id", 0], "1-254")):
        rc, out, err = cli("node", "config", "--port", board.port, *bad)
        assert rc == 2 and allowed in err and "Traceback" not in err
    assert json.loads((fs / "config.json").read_text())["node_id"] == 9  # refused changes change nothing
    boots = board.boots
    rc, out, err = cli("node", "reboot", "--port", board.port)
    assert rc == 0 and "rebooted" in out and board.boots > boots, (rc, out, err)


def test_serial_info_reports_a_config_the_firmware_rejects(flashed_board):
    board, fs = flashed_board
    (fs / "config.json").write_text('{"node_id": 3, "label": "L TA", "emg_hz": 1926}')
    rc, out, err = cli("node", "info", "--port", board.port)
    assert rc == 0, err
    # On the virtual board the firmware's board cannot load (no SPI), so the host rules speak.
    assert "REJECTED (emg_hz 1926 is not allowed" in out and "missing key highpass_hz" in out
    rc, out, err = cli("node", "config", "--port", board.port, "--emg-hz", 1000)
    assert rc == 0, err
    assert "incomplete or invalid" in out
    assert json.loads((fs / "config.json").read_text()) == dict(BASE, emg_hz=1000)


@pytest.mark.slow
def test_ble_node_commands_against_a_simulated_node(tmp_path, monkeypatch):
    from myosim.world import World

    wj, nj = sim_node(tmp_path, node_id=7)
    monkeypatch.setenv("MYOSTRIDE_SIM_WORLD", str(wj))
    with World([nj], wj):
        rc, out, err = cli("node", "info", "--node", 7, "--backend", "sim")
        assert rc == 0, err
        assert "firmware        0.1.0" in out and "mV" in out and "imu_hz          104" in out
        assert "self-test       front end ok, IMU ok, clock ok, storage ok" in out
        rc, out, err = cli("node", "config", "--node", 7, "--backend", "sim", "--label", "L TA", "--highpass-hz", 15)
        assert rc == 0, err
        rc, out, err = cli("node", "info", "--node", 7, "--backend", "sim")
        assert "'L TA'" in out and "highpass_hz     15" in out
        assert json.loads((nj.parent / "fs" / "config.json").read_text())["label"] == "L TA"
        # refused by the host (allowed values) and by the node itself (the simulated board samples at 2 kHz only)
        rc, out, err = cli("node", "config", "--node", 7, "--backend", "sim", "--powerline-hz", 55)
        assert rc == 2 and "0 (off), 50 or 60" in err
        rc, out, err = cli("node", "config", "--node", 7, "--backend", "sim", "--emg-hz", 1000)
        assert rc == 2 and "node 7 refused configure" in err
        rc, out, err = cli("node", "identify", "--node", 7, "--backend", "sim", "--seconds", 2)
        assert rc == 0, err
        rc, out, err = cli("node", "reboot", "--node", 7, "--backend", "sim")
        assert rc == 0 and "is back and advertising" in out, err
        rc, out, err = cli("node", "info", "--node", 7, "--backend", "sim")  # back, with its saved config
        assert rc == 0 and "'L TA'" in out, err
        rc, out, err = cli("node", "info", "--node", 12, "--backend", "sim")
        assert rc == 2 and "node 12 is not advertising" in err and "7" in err
