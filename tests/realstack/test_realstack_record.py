"""Recordings through the recorder and the Bumble backend, nodes on MicroPython's NimBLE.

No air time: these check behaviour on the real stacks (resend, reconnect, twelve links),
never throughput a radio would give."""

import json

import pytest

from rs_helpers import node_logs, real_world, record

pytestmark = pytest.mark.slow


def _check_complete(man, n_nodes):
    assert man["status"] == "complete", man.get("end_reason")
    assert man["radio"]["name"] == "bumble" and man["radio"]["node_stack"] == "nimble"
    assert len(man["nodes"]) == n_nodes
    for n in man["nodes"]:
        assert n["samples"]["expected"] > 0


def test_four_nodes_20_s_no_missing_samples(tmp_path, nimble_exe):
    sc, world = real_world(tmp_path, 4, nimble_exe, seconds=50)
    with world:
        try:
            man = record(sc, world, tmp_path / "session", 20.0)
        except BaseException:
            print(node_logs(world))
            raise
    _check_complete(man, 4)
    for n in man["nodes"]:
        assert n["samples"]["missing"] == 0 and n["samples"]["received"] == n["samples"]["expected"], n["samples"]
        # the recorder's 20 s start before every node's START is through (up to ~1 s on a loaded
        # 2-core machine): at least 18 s of every node, all of it received
        assert n["samples"]["expected"] >= 20 * 2000 * 0.9, n["samples"]
        assert n["gaps"] == [] and n["disconnects"] == 0


def test_twelve_nodes_connect_stream_and_stop(tmp_path, nimble_exe):
    sc, world = real_world(tmp_path, 12, nimble_exe, seconds=45)
    with world:
        try:
            man = record(sc, world, tmp_path / "session", 6.0)
        except BaseException:
            print(node_logs(world))
            raise
        alive = world.running()
    _check_complete(man, 12)
    assert alive[0] and all(alive[1])  # no node crashed on its stack
    for n in man["nodes"]:
        assert n["connects"] >= 1
        # the recording's clock starts before all twelve links are up (connecting takes seconds
        # on a loaded 2-core machine): at least one second of every node, all of it received
        assert n["samples"]["received"] >= 2000, (n["node_id"], n["samples"])
        assert n["samples"]["received"] + sum(g.get("samples", 0) for g in n["gaps"]) == n["samples"]["expected"]


def test_bursty_loss_and_a_link_drop_every_sample_recovered_or_a_gap(tmp_path, nimble_exe):
    radio = {"loss_pct": 3.0, "burst_len": 6, "seed": 5, "drops": [{"node_id": 2, "after_connect_s": 6.0}]}
    sc, world = real_world(tmp_path, 4, nimble_exe, seconds=50, radio=radio)
    with world:
        try:
            man = record(sc, world, tmp_path / "session", 15.0)
        except BaseException:
            print(node_logs(world))
            raise
        faults = world.faults()
    _check_complete(man, 4)
    kinds = [f["kind"] for f in faults]
    assert "disconnect" in kinds and kinds.count("notify_lost") >= 4, kinds
    by_id = {n["node_id"]: n for n in man["nodes"]}
    assert by_id[2]["disconnects"] >= 1 and by_id[2]["connects"] >= 2  # the recorder reconnected
    recovered = 0
    for n in man["nodes"]:
        s = n["samples"]
        gap_samples = sum(g.get("samples", 0) for g in n["gaps"])
        assert s["received"] + gap_samples == s["expected"], (n["node_id"], s, n["gaps"])
        assert s["missing"] == gap_samples
        recovered += s["recovered"]
    assert recovered > 0  # the loss bursts were healed by resends on the real stacks
    json.dumps(man)
