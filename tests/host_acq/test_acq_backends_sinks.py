"""The one backend object (acquire/backends.py) and the recorder's live sinks (acquire/sinks.py)."""

import argparse
import asyncio
import json

import numpy as np
import pytest

from myostride.acquire.backends import Backend, add_backend_arguments, backend_from_args, resolve_backend
from myostride.acquire.recorder import Recorder
from myostride.acquire.sinks import RecorderSink
from myostride.cli import main
from myostride.errors import UserError
from myostride.session import load_session

from simworld import mapping_for, small_world


def test_real_ble_is_what_a_user_gets_by_default():
    p = argparse.ArgumentParser()
    add_backend_arguments(p)
    b = backend_from_args(p.parse_args([]))
    assert b.name == "ble" and not b.simulated and b.host_clock_name == "monotonic"
    assert b.scanner_backend is None and b.client_backend is None and b.device_kwargs() == {}
    assert resolve_backend().name == "ble"
    assert Recorder("unused", ["1=left:soleus"], 5).backend.name == "ble"


def test_sim_backend_carries_its_world_everywhere(tmp_path):
    from myosim.backend import SimClient, SimScanner

    world = tmp_path / "w.json"
    b = resolve_backend("sim", world=world)
    assert b.simulated and b.host_clock_name == "sim-global"
    assert b.scanner_backend is SimScanner and b.client_backend is SimClient
    assert b.device_kwargs() == {"world": str(world)}
    assert b.describe()["world"] == str(world) and b.describe()["simulated"] is True
    with pytest.raises(UserError, match="cannot use the simulator: no simulated world at"):
        b.check_ready()
    world.write_text(json.dumps({"epoch_ns": 0, "speed": 1.0}))
    assert b.host_clock_us() > 0


@pytest.mark.parametrize("kw, msg", [
    ({"name": "wifi"}, "unknown backend 'wifi'"),
    ({"name": "ble", "world": "w.json"}, "--world only applies to --backend sim"),
    ({"name": "sim", "hci": "usb:0"}, "--hci only applies to --backend bumble"),
])
def test_bad_backend_choices_are_one_line_errors(kw, msg):
    with pytest.raises(UserError, match=msg):
        resolve_backend(**kw)


def test_node_over_usb_refuses_radio_options(capsys):
    assert main(["node", "info", "--port", "/dev/null", "--backend", "sim"]) == 2
    assert "go with --node" in capsys.readouterr().err


class Collect(RecorderSink):
    def __init__(self):
        self.info = None
        self.blocks = {}
        self.events = []
        self.closed = 0

    def on_start(self, info):
        self.info = info

    def on_block(self, node_id, kind, t_s, values):
        self.blocks.setdefault((node_id, kind), []).append((np.array(t_s), np.array(values)))

    def on_event(self, t_s, name, fields):
        self.events.append((t_s, name, fields))

    def close(self):
        self.closed += 1


class Broken(RecorderSink):
    def on_block(self, node_id, kind, t_s, values):
        raise RuntimeError("consumer bug")


@pytest.mark.slow
def test_sinks_get_every_sample_with_its_time_and_a_broken_sink_changes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MYOSTRIDE_SIM_WORLD", raising=False)
    with small_world(tmp_path, nodes=2, seconds=30.0, seed=5, radio={"loss_pct": 3.0}) as (sc, _w):
        # `myostride node --backend sim --world PATH` reaches a world other than the published one
        nid = sc.truth["nodes"][1]["node_id"]
        assert main(["node", "info", "--node", str(nid), "--backend", "sim", "--world", str(sc.world_path)]) == 0
        assert "Node %d over sim" % nid in capsys.readouterr().out
        good, bad = Collect(), Broken()
        backend = resolve_backend("sim", world=sc.world_path)
        rec = Recorder(tmp_path / "rec", mapping_for(sc), 5.0, backend=backend, sinks=[bad, good])
        man = asyncio.run(rec.run())
    assert man["status"] == "complete"
    assert man["radio"]["name"] == "sim" and man["radio"]["simulated"] is True
    assert good.info["nodes"][0]["node_id"] == sc.truth["nodes"][0]["node_id"] and good.closed == 1
    names = [e[1] for e in good.events]
    assert "stop_sent" in names and names[-1] == "session_end"
    log_events = (tmp_path / "rec" / "raw.log").read_bytes()
    assert b"sink_failed" in log_events and b"consumer bug" in log_events
    s = load_session(tmp_path / "rec")
    for ch in s.channels:
        parts = sorted(good.blocks[(ch.node_id, "emg")], key=lambda p: p[0][0])  # resent blocks come late
        t = np.concatenate([p[0] for p in parts])
        v = np.concatenate([p[1] for p in parts])
        # every recorded sample reached the sink once (resent frames included), same values
        assert len(t) == len(ch.t_s)
        bad_i = np.nonzero(v != ch.uv)[0]
        assert len(bad_i) == 0, (len(bad_i), bad_i[:5], v[bad_i[:5]], ch.uv[bad_i[:5]], t[bad_i[:5]] - ch.t_s[bad_i[:5]])
        # live times come from the online clock estimate (round-trip midpoints): within half the
        # longest connection interval (25 ms) of the session's full fit, like test_acq_e2e's bound
        assert np.all(np.diff(t) > -0.025)
        assert np.percentile(np.abs(t - ch.t_s), 99) < 0.025, np.percentile(np.abs(t - ch.t_s), [50, 99])
        imu = good.blocks[(ch.node_id, "imu")]
        assert np.concatenate([p[1] for p in imu]).shape[1] == 6
