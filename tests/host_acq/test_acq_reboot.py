"""A node that reboots mid-trial restarts its data seq at 0 while its node time runs on: the
loader keys frames by (boot epoch, seq), so both boots' frames are in the session, in node-time
order, with the samples lost during the reboot as one explicit gap (docs/recording.md)."""

import os

import numpy as np
import pytest

from acqfakes import FakeNode, write_fake_session
from myostride.acquire import logscan
from myostride.session import load_session, rebuild_session

AT_US, DOWN_US = 11_500_000, 300_000  # reboot 1.5 s into a 3 s session, streaming again 0.3 s later

RECORDER_EVENTS = [  # what the recorder logs around a reboot (acquire/recorder.py, _reconnect)
    (AT_US + 10_000, "disconnected", 4, {}),
    (AT_US + DOWN_US - 20_000, "connected", 4, {"name": "myo-04", "address": "A", "firmware": [0, 1, 0]}),
    (AT_US + DOWN_US - 15_000, "rebooted", 4, {}),
    (AT_US + DOWN_US - 10_000, "started", 4, {"ack_status": 0, "ack_value": 0, "first_seq": 0, "restart": True}),
]


@pytest.mark.parametrize("events", [(), RECORDER_EVENTS], ids=["from-data", "from-event"])
def test_reboot_keeps_both_boots_with_an_explicit_gap(tmp_path, events):
    node = FakeNode(4, ppm=30)
    write_fake_session(tmp_path / "raw.log", [node], seconds=3.0, reboot=(AT_US, DOWN_US), events=events)
    s = load_session(tmp_path)
    ch = s.channels[0]
    n = s.meta["nodes"][0]
    # before and after the reboot, in node-time order
    assert ch.t_s[0] == pytest.approx(0.0, abs=0.002) and ch.t_s[-1] > 2.8
    assert np.all(np.diff(ch.node_k) >= 1) and np.all(np.diff(ch.t_s) > 0)
    # the samples of the reboot are one explicit gap, never filled; nothing else is missing
    assert len(ch.gaps) == 1 and len(n["gaps"]) == 1
    a, b = ch.gaps[0]
    assert 1.4 < a < 1.5 and 1.8 < b < 1.9, (a, b)
    holes = int(np.sum(np.diff(ch.node_k) - 1))
    assert n["samples"]["missing"] == holes == n["gaps"][0]["samples"] > 0
    assert n["samples"]["received"] == len(ch.uv)
    # codes are the node's own, sample for sample
    codes = np.round(ch.uv * 1000 / node.nv).astype(np.int64)
    assert np.array_equal(codes, [node.code(k) for k in ch.node_k])
    contents = logscan.scan_log(tmp_path / "raw.log")
    nl = contents.node(4)
    assert nl.epoch == 1 and not nl.conflicts
    assert {e for e, _s in nl.frames} == {0, 1}
    assert nl.epochs()[1][0] == 0  # the second boot numbers its frames from 0 again
    # frame accounting per boot: no conflicts, no missing frames in either seq space
    f = n["frames"]
    assert f["conflicting"] == 0 and f["missing"] == 0 and f["duplicates"] == 0
    assert [bt["epoch"] for bt in f["boots"]] == [0, 1]
    assert f["boots"][1]["first_seq"] == 0 and f["boots"][1]["rebooted_host_us"] is not None
    assert f["received"] == sum(bt["received"] for bt in f["boots"]) == len(nl.frames)

    # the session rebuilt from raw.log alone is the loaded one
    first = s.meta
    os.remove(tmp_path / "session.json")
    man = rebuild_session(tmp_path)
    assert man["nodes"] == first["nodes"]
    again = load_session(tmp_path).channels[0]
    assert np.array_equal(again.t_s, ch.t_s) and np.array_equal(again.uv, ch.uv)
