"""Ctrl-C (SIGINT) and SIGTERM in every phase of a recording: a closed session within 5 s,
every connected node told to stop (answered, or logged as unanswered).

The signal is real (os.kill to this process, handled by the record command's handler); a hook
on the recorder's phase change sends it the moment the phase begins, so each phase is hit."""

import asyncio
import os
import signal
import time

import pytest

from faultcheck import events
from myostride.acquire.backends import resolve_backend
from myostride.acquire.recorder import Recorder
from myostride.commands.record import stop_on_signals
from myostride.session import load_session
from simworld import mapping_for, small_world

pytestmark = pytest.mark.slow

PHASES = ("scanning", "connecting", "configuring", "syncing", "recording", "stopping", "draining")
CASES = [(p, (signal.SIGINT, signal.SIGTERM)[i % 2]) for i, p in enumerate(PHASES)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("sigworld")
    with small_world(d, nodes=3, seconds=300.0, seed=31, radio={"loss_pct": 2.0}) as (sc, w):
        yield sc


def stop_in_phase(rec, phase, sig):
    """Send `sig` to this process when the recorder enters `phase`; returns the dict the time lands in."""
    sent = {}
    enter = rec._set_phase

    def hook(p):
        enter(p)
        if p == phase and not sent:
            sent["t"] = time.monotonic()
            os.kill(os.getpid(), sig)

    rec._set_phase = hook
    return sent


@pytest.mark.parametrize("phase, sig", CASES, ids=["%s-%s" % (p, s.name) for p, s in CASES])
def test_signal_in_every_phase_closes_the_session_within_5_s(world, tmp_path, phase, sig):
    sc = world
    out = tmp_path / "rec"
    # stopping and draining come after the requested end: a short recording; else until stopped
    seconds = 2.0 if phase in ("stopping", "draining") else None
    rec = Recorder(out, mapping_for(sc), seconds, backend=resolve_backend("sim", world=sc.world_path))
    sent = stop_in_phase(rec, phase, sig)

    async def go():
        async with stop_on_signals(rec) as stop:
            return await rec.run(stop)

    man = asyncio.run(go())
    took_s = time.monotonic() - sent["t"]
    assert took_s < 5.0, took_s
    assert man["status"] == ("complete" if seconds else "stopped"), man["end_reason"]
    ev = events(out)
    assert ev[-1]["event"] == "session_end"
    connected = {e["node_id"] for e in ev if e["event"] == "connected"}
    told = {e["node_id"] for e in ev if e["event"] in ("stopped", "stop_unanswered")}
    assert connected <= told, (connected, told)  # every node we reached was told to stop
    if phase != "scanning":
        load_session(out)  # closed and loadable
