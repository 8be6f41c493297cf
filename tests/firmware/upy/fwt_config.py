"""Config on the node's filesystem: validated on boot, bad files fall back to defaults and are kept."""

import json

from myowire import codec

import config
from fwt_helpers import FakeBoard, tmp_dir, make_node, connect, command, eq

GOOD = {"node_id": 7, "label": "TA L", "emg_hz": 1926, "highpass_hz": 15, "highpass_order": 4, "powerline_hz": 50, "imu_hz": 200}


def _board(name, text=None):
    d = tmp_dir(name)
    if text is not None:
        with open(d + "/config.json", "w") as f:
            f.write(text)
    return FakeBoard(d), d + "/config.json"


def test_missing_file_gives_defaults_without_complaint():
    b, path = _board("cfg_missing")
    cfg, why = config.load(path, b)
    eq(why, None, "reason")
    eq(cfg, config.defaults(b), "defaults")
    eq(cfg["emg_hz"], 2000, "default rate")
    eq(cfg["highpass_hz"], 20, "default corner")
    eq(cfg["powerline_hz"], 0, "notch off by default")


def test_valid_file_is_used():
    b, path = _board("cfg_good", json.dumps(GOOD))
    cfg, why = config.load(path, b)
    eq(why, None, "reason")
    eq(cfg, GOOD, "config")


def test_corrupt_and_invalid_files_fall_back():
    cases = [
        ("{not json", "JSON"),
        ("", "JSON"),
        ("[1, 2]", "object"),
        (json.dumps(dict(GOOD, emg_hz=1500)), "emg_hz"),
        (json.dumps(dict(GOOD, highpass_hz=25)), "highpass_hz"),
        (json.dumps(dict(GOOD, highpass_hz=9)), "highpass_hz"),
        (json.dumps(dict(GOOD, powerline_hz=55)), "powerline_hz"),
        (json.dumps(dict(GOOD, imu_hz=150)), "imu_hz"),
        (json.dumps(dict(GOOD, highpass_order=3)), "highpass_order"),
        (json.dumps(dict(GOOD, node_id=0)), "node_id"),
        (json.dumps(dict(GOOD, node_id="7")), "node_id"),
        (json.dumps(dict(GOOD, label="x" * 17)), "label"),
        (json.dumps(dict(GOOD, extra=1)), "unknown key"),
        (json.dumps({"node_id": 7}), "missing key"),
    ]
    for i, (text, word) in enumerate(cases):
        b, path = _board("cfg_bad%d" % i, text)
        cfg, why = config.load(path, b)
        assert why and word in why, (text, why)
        eq(cfg, config.defaults(b), "defaults for %r" % text)
        with open(path) as f:
            eq(f.read(), text, "bad file left untouched")


def test_node_boots_on_defaults_flags_it_and_keeps_the_bad_file():
    n, b, ble = make_node("cfg_node", "{\"node_id\": 300")
    eq(n.cfg["node_id"], b.default_node_id, "default id")
    connect(n, ble)
    r = command(n, ble, 1, codec.C_STATUS)
    eq(r["status"], codec.ACK_OK, "status ack")
    assert r["message"].startswith("config defaults:"), r["message"]
    st = codec.decode_frame(ble.gatts_read(n.radio.h_reply))
    assert st["flags"] & codec.F_CONFIG_DEFAULTS, st
    args = codec.configure_args(0, 12, 0, 0, label="soleus R")
    r = command(n, ble, 2, codec.C_CONFIGURE, args)
    eq(r["status"], codec.ACK_OK, "configure")
    with open(b.fs_dir + "/config.rejected.json") as f:
        eq(f.read(), "{\"node_id\": 300", "rejected file kept aside")
    with open(b.fs_dir + "/config.json") as f:
        saved = json.load(f)
    eq(saved["highpass_hz"], 12, "saved")
    eq(saved["label"], "soleus R", "saved label")
    eq(config.problem(saved, b), None, "saved config valid")
    command(n, ble, 3, codec.C_STATUS)
    st = codec.decode_frame(ble.gatts_read(n.radio.h_reply))
    eq(st["flags"] & codec.F_CONFIG_DEFAULTS, 0, "flag cleared")
    eq(st["highpass_hz"], 12, "status shows config")
