"""Node and radio faults during a recording: each ends in a closed session, within its bound,
loadable, with what is missing reported. Fault injection is at the bleak boundary (faulty.py)
or in the simulated radio (forced link losses)."""

import asyncio
import time

import numpy as np
import pytest

from faultcheck import check_loadable_and_honest, end_seconds, events
from faulty import FaultPlan, FaultyBackend
from myostride.acquire import recorder as recmod
from myostride.acquire.backends import resolve_backend
from myostride.acquire.link import CommandFailed
from myostride.acquire.recorder import Recorder
from myostride.session import rebuild_session
from myowire import codec
from simworld import mapping_for, small_world, wait_global

pytestmark = pytest.mark.slow

# The end of a recording that reached its duration: STOP, the drain, closing tasks and links.
END_BOUND_S = recmod.STOP_BOUND_S + 10.0 + 2 * recmod.CLOSE_BOUND_S + 1.0


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("faultworld")
    with small_world(d, nodes=3, seconds=200.0, seed=21, radio={"loss_pct": 2.0}) as (sc, w):
        yield d, sc, w


def _record(out, sc, backend, seconds, during=None, **kw):
    rec = Recorder(out, mapping_for(sc), seconds, backend=backend, **kw)

    async def go():
        task = asyncio.ensure_future(rec.run())
        if during is not None:
            while rec.phase != "recording" and not task.done():
                await asyncio.sleep(0.01)
            if not task.done():
                await during(rec)
        return await task

    t0 = time.monotonic()
    man = asyncio.run(go())
    return man, rec, time.monotonic() - t0


def test_node_that_never_answers_stop(world, tmp_path):
    _d, sc, _w = world
    silent = sc.truth["nodes"][0]["node_id"]
    plan = FaultPlan(silent_stop={silent})
    man, _rec, _wall = _record(tmp_path / "s", sc, FaultyBackend(sc.world_path, plan), 4.0)
    assert man["status"] == "complete"
    assert plan.swallowed and all(n == silent for n, _op in plan.swallowed)
    ev = events(tmp_path / "s")
    assert any(e["event"] == "stop_unanswered" and e.get("node_id") == silent for e in ev)
    stopped = {e["node_id"] for e in ev if e["event"] == "stopped"}
    assert stopped == {n["node_id"] for n in sc.truth["nodes"]} - {silent}
    assert end_seconds(tmp_path / "s") < END_BOUND_S
    check_loadable_and_honest(tmp_path / "s")


def test_lost_configure_acks_are_asked_again_quickly(world, tmp_path):
    """A bursty radio lost four CONFIGURE acks of one node in a row (bench_sync, load ~12): at
    5 s per try the whole recording waited 20 s. Setup commands are asked again after 0.75 s,
    then twice as long each time (recorder.SETUP_FIRST_REPLY_S)."""
    _d, sc, _w = world
    slow = sc.truth["nodes"][2]["node_id"]
    plan = FaultPlan(lost_configure={slow: 3})
    man, _rec, _wall = _record(tmp_path / "c", sc, FaultyBackend(sc.world_path, plan), 3.0)
    assert man["status"] == "complete"
    assert plan.swallowed == [(slow, codec.C_CONFIGURE)] * 3
    ev = events(tmp_path / "c")
    t = {e["phase"]: e["t_us"] for e in ev if e["event"] == "phase"}
    # three lost tries cost 0.75 + 1.5 + 3 s, not 3 x 5 s (loaded machine: a few seconds of slack)
    assert (t["syncing"] - t["configuring"]) / 1e6 < 5.25 + 4.0, (t["syncing"] - t["configuring"]) / 1e6
    check_loadable_and_honest(tmp_path / "c")


def test_node_that_answers_garbage(world, tmp_path):
    _d, sc, _w = world
    bad = sc.truth["nodes"][1]["node_id"]
    plan = FaultPlan(garbage={bad}, garbage_every=5, seed=4)
    man, _rec, _wall = _record(tmp_path / "g", sc, FaultyBackend(sc.world_path, plan), 5.0)
    assert man["status"] == "complete" and plan.garbled > 20
    assert end_seconds(tmp_path / "g") < END_BOUND_S
    s = check_loadable_and_honest(tmp_path / "g")
    for entry in s.meta["nodes"]:
        if entry["node_id"] != bad:
            assert entry["samples"]["missing"] == 0, entry
    # the garbage is kept in raw.log and reported, never decoded into samples
    assert man["raw_log"].get("records", 0) > 0
    bad_entry = next(n for n in s.meta["nodes"] if n["node_id"] == bad)
    assert bad_entry["samples"]["received"] > 0


def test_node_rebooting_mid_trial(world, tmp_path):
    _d, sc, _w = world
    nid = sc.truth["nodes"][2]["node_id"]

    async def reboot(rec):
        await asyncio.sleep(1.5)
        try:
            await rec.nodes[nid].link.send(codec.C_REBOOT)
        except CommandFailed:
            pass  # the node may drop the link before its ack gets out: it reboots either way

    man, _rec, _wall = _record(tmp_path / "r", sc, resolve_backend("sim", world=sc.world_path), 8.0, during=reboot)
    assert man["status"] == "complete", man["end_reason"]
    assert end_seconds(tmp_path / "r") < END_BOUND_S
    s = check_loadable_and_honest(tmp_path / "r")
    entry = next(n for n in s.meta["nodes"] if n["node_id"] == nid)
    assert entry["connects"] >= 2
    ch = next(c for c in s.channels if c.node_id == nid)
    # data from before and after the reboot are both in the session, in node-time order
    assert ch.t_s[0] < 1.5 and ch.t_s[-1] > 6.0, (ch.t_s[0], ch.t_s[-1], entry)
    assert np.all(np.diff(ch.t_s) > 0)
    # each boot numbers its frames from 0: both boots' frames are kept, none is a "conflict"
    boots = entry["frames"]["boots"]
    assert len(boots) == 2 and all(b["received"] > 0 for b in boots), boots
    assert entry["frames"]["conflicting"] == 0
    assert sum(b["received"] for b in boots) == entry["frames"]["received"]
    # the samples the reboot took are an explicit gap after the reboot command (t ~ 1.5 s)
    assert any(g[0] > 1.0 for g in ch.gaps), ch.gaps
    # the session rebuilt from raw.log alone is the live one
    assert rebuild_session(tmp_path / "r")["nodes"] == man["nodes"]


def test_all_links_lost_at_once(tmp_path):
    drops = [{"node": n, "at_s": 7.0, "down_s": 1.0} for n in (1, 2, 3)]
    with small_world(tmp_path, nodes=3, seconds=60.0, seed=8, radio={"loss_pct": 1.0, "disconnects": drops}) as (sc, _w):
        ids = [n["node_id"] for n in sc.truth["nodes"]]
        wait_global(sc, 2.0)
        man, _rec, _wall = _record(tmp_path / "a", sc, resolve_backend("sim", world=sc.world_path), 10.0)
    assert man["status"] == "complete", man["end_reason"]
    s = check_loadable_and_honest(tmp_path / "a")
    for entry in s.meta["nodes"]:
        assert entry["node_id"] in ids
        assert entry["disconnects"] >= 1 and entry["connects"] >= 2, entry
        assert entry["samples"]["missing"] == 0, entry  # the nodes' buffers covered the outage
    assert end_seconds(tmp_path / "a") < END_BOUND_S
