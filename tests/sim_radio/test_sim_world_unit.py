"""World runner errors name what is missing, and nothing is left running after a failed start."""

import os

import pytest

from myosim.nodefiles import write_world
from myosim.world import World, WorldError
from sim_radio_helpers import HERE, cleanup, make_world


def test_missing_world_file(tmp_path):
    with pytest.raises(WorldError, match="no world file"):
        World([], tmp_path / "world.json").start()


def test_missing_program_and_node_json(tmp_path):
    write_world(tmp_path / "world.json", tmp_path / "a.sock", tmp_path / "h.sock", 5)
    with pytest.raises(WorldError, match="does not exist"):
        World([], tmp_path / "world.json", firmware_dir=tmp_path, script="main.py").start()
    with pytest.raises(WorldError, match="missing node.json"):
        World([tmp_path / "n1" / "node.json"], tmp_path / "world.json", firmware_dir=HERE, script="upy_echo.py").start()


def test_bad_radio_settings_fail_before_anything_starts(tmp_path):
    with pytest.raises(ValueError, match="loss_pct"):
        World([], tmp_path / "world.json", {"loss_pct": -1})


def test_air_that_cannot_bind_is_reported_with_its_log(tmp_path):
    d, wj, njs = make_world(1, base=tmp_path / "w")
    try:
        bad = tmp_path / "no" / "such" / "dir"
        write_world(wj, bad / "air.sock", bad / "host.sock", 5)
        w = World(njs, wj, {}, firmware_dir=HERE, script="upy_echo.py")
        with pytest.raises(WorldError, match="air.log"):
            w.start(timeout_s=5)
        air, nodes = w.running()
        assert not air and nodes == []
        assert "No such file" in w.air_log.read_text() or "FileNotFoundError" in w.air_log.read_text()
        assert not os.path.exists(bad)
    finally:
        cleanup(d)


def test_socket_path_too_long_is_named(tmp_path):
    write_world(tmp_path / "world.json", "/tmp/" + "x" * 120 + "/air.sock", tmp_path / "h.sock", 5)
    with pytest.raises(WorldError, match="AF_UNIX allows 107"):
        World([], tmp_path / "world.json", firmware_dir=HERE, script="upy_echo.py").start()
