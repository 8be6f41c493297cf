import pytest

from myostride import cli
from myostride.acquire.live import render
from myostride.acquire.mapping import parse_mapping
from myostride.acquire.recorder import Recorder
from myostride.acquire.settings import check_config
from myostride.errors import UserError


def test_mapping_parses_and_normalises():
    m = parse_mapping(["3=L:Tibialis Anterior", "node07=right:soleus"])
    assert [(x.node_id, x.side, x.muscle, x.label) for x in m] == [(3, "left", "tibialis_anterior", "node03"), (7, "right", "soleus", "node07")]


@pytest.mark.parametrize("items, words", [
    (["%d=left:soleus" % i for i in range(1, 14)], ["13 nodes", "at most 12"]),
    (["1=left:soleus", "1=right:soleus"], ["node 1 is mapped twice"]),
    (["1=left:soleus", "2=left:soleus"], ["left soleus is mapped to both node 1 and node 2"]),
    (["1=middle:soleus"], ["unknown side", "left or right"]),
    (["1=left:bicep"], ["unknown muscle", "tibialis_anterior", "gluteus_maximus"]),
    (["x=left:soleus"], ["bad node id"]),
    (["300=left:soleus"], ["1-254"]),
    (["1:left:soleus"], ["NODE=SIDE:MUSCLE"]),
    ([], ["no nodes mapped"]),
])
def test_bad_mappings_name_the_problem_and_the_fix(items, words):
    with pytest.raises(UserError) as e:
        parse_mapping(items)
    for w in words:
        assert w in str(e.value)


def test_config_validation():
    assert check_config({"emg_hz": 1000})["emg_hz"] == 1000
    for bad, word in (({"emg_hz": 1500}, "1926"), ({"highpass_hz": 5}, "10-20"), ({"powerline_hz": 55}, "50 or 60"), ({"imu_hz": 50}, "IMU")):
        with pytest.raises(UserError, match=word):
            check_config(bad)


@pytest.mark.parametrize("argv, msg", [
    (["record", "--map", "1=left:soleus"], "--out DIR is required"),
    (["record", "--out", "x"], "no --map"),
    (["record", "--out", "x", "--map", "1=left:soleus", "--seconds", "-3"], "--seconds must be more than 0"),
    (["record", "--out", "x", "--map", "1=left:soleus", "--world", "w.json"], "--world only applies"),
    (["record", "--rebuild", "/nonexistent/session"], "no raw.log"),
    (["scan", "--seconds", "0"], "--seconds must be more than 0"),
    (["scan", "--backend", "ble", "--world", "w.json"], "--world only applies"),
])
def test_cli_errors_are_one_line_exit_2(argv, msg, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_existing_session_is_never_overwritten(tmp_path):
    (tmp_path / "raw.log").write_bytes(b"MYORAW1\n")
    rec = Recorder(tmp_path, ["1=left:soleus"], 5, backend="ble")
    with pytest.raises(UserError, match="already holds a recorded session"):
        rec._open()
    assert (tmp_path / "raw.log").read_bytes() == b"MYORAW1\n"


def test_live_table_renders_every_column():
    from rich.console import Console

    snap = {"elapsed_s": 12.3, "seconds": 60, "stopping": False, "nodes": [
        {"node_id": 1, "label": "node01", "side": "left", "muscle": "soleus", "connected": True, "rate_hz": 2001, "loss_pct": 2.5,
         "recovered": 7, "pending": 1, "lost": 0, "battery_pct": 88, "rms_uv": 41.2, "noise_uv": 3.1, "lead_off": False,
         "sync_rtt_ms": 31.0, "disconnects": 0},
        {"node_id": 2, "label": "node02", "side": "right", "muscle": "soleus", "connected": False, "rate_hz": 0, "loss_pct": 0.0,
         "recovered": 0, "pending": 0, "lost": 3, "battery_pct": None, "rms_uv": None, "noise_uv": None, "lead_off": True,
         "sync_rtt_ms": None, "disconnects": 2}]}
    con = Console(width=200, record=True)
    con.print(render(snap))
    text = con.export_text()
    for w in ("recording 12.3 s of 60 s", "node01", "2001", "2.5", "41.2", "LEAD OFF", "down (2 drops)", "88"):
        assert w in text


def test_failed_setup_leaves_no_session_and_says_why(tmp_path):
    from myostride import cli

    out = tmp_path / "trial"
    rc = cli.main(["record", "--backend", "sim", "--world", str(tmp_path / "no-world.json"), "--out", str(out),
                   "--map", "1=left:soleus", "--seconds", "1", "--no-live", "--scan-seconds", "0.5"])
    assert rc == 2
    assert not out.exists()  # nothing was recorded: the same --out can be used again
