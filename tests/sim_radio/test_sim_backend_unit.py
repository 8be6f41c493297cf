"""Backend pieces that need no running world: clock, world lookup, advertising parsing, clear errors."""

import asyncio
import os
import time

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from myosim import backend
from myosim.nodefiles import write_world
from myowire import gatt


def test_host_clock_follows_world_and_its_rewrites(tmp_path):
    wj = tmp_path / "world.json"
    write_world(wj, tmp_path / "a", tmp_path / "h", 10, speed=2.0, epoch_ns=time.time_ns() - 10_000_000_000)
    us = backend.host_clock_us(wj)
    assert abs(us - 20_000_000) < 200_000  # 10 s wall at 2x
    time.sleep(0.01)
    write_world(wj, tmp_path / "a", tmp_path / "h", 10, speed=1.0, epoch_ns=time.time_ns())
    os.utime(wj, ns=(time.time_ns(), time.time_ns() + 1_000_000))  # make the rewrite visible on coarse clocks
    assert 0 <= backend.host_clock_us(wj) < 200_000
    assert isinstance(backend.host_clock_us({"epoch_ns": 0, "speed": 1.0}), int)


def test_default_world_path_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MYOSTRIDE_SIM_WORLD", str(tmp_path / "w.json"))
    assert backend.default_world_path() == tmp_path / "w.json"
    monkeypatch.delenv("MYOSTRIDE_SIM_WORLD")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert backend.default_world_path() == tmp_path / "myostride-sim" / "world.json"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    assert backend.default_world_path().name == "world.json"
    assert "myostride-sim-%d" % os.getuid() in str(backend.default_world_path())


def test_advertising_parse_matches_the_node_payload():
    adv = gatt.advertising_payload(7, (1, 2, 3), 88) + gatt.scan_response_payload()
    name, man, sdata, uuids, tx = backend.parse_ad(adv)
    assert name == "myo-07"
    assert gatt.parse_manufacturer(man[gatt.COMPANY_ID]) == {"proto_version": 1, "node_id": 7, "firmware": [1, 2, 3], "battery_pct": 88}
    assert uuids == [gatt.SERVICE_UUID] and sdata == {} and tx is None


def test_no_world_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("MYOSTRIDE_SIM_WORLD", str(tmp_path / "nope.json"))

    async def scan():
        await BleakScanner.discover(timeout=0.1, backend=backend.SimScanner)

    with pytest.raises(BleakError, match="myostride sim"):
        asyncio.run(scan())
    write_world(tmp_path / "nope.json", tmp_path / "a.sock", tmp_path / "h.sock", 10)

    async def connect():
        await BleakClient("C0:4D:59:53:00:01", backend=backend.SimClient).connect()

    with pytest.raises(BleakError, match="not running"):
        asyncio.run(connect())
