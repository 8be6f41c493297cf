"""The `bumble` backend object and its argument handling (no radio needed)."""

import asyncio
import json
from argparse import Namespace

import pytest

from myostride.acquire import bumble_backend as bb
from myostride.acquire.backends import resolve_backend
from myostride.errors import UserError


def test_bumble_needs_a_transport():
    with pytest.raises(UserError, match="--hci"):
        resolve_backend("bumble")


def test_several_dongles_and_what_the_session_records():
    b = resolve_backend("bumble", hci=["usb:0", "usb:1"])
    assert b.name == "bumble" and not b.simulated and b.host_clock_name == "monotonic"
    assert b.device_kwargs() == {"hci": ["usb:0", "usb:1"]}
    assert b.scanner_backend is bb.BumbleScanner and b.client_backend is bb.BumbleClient
    d = b.describe()
    assert d["name"] == "bumble" and d["hci"] == ["usb:0", "usb:1"] and d["simulated"] is False
    assert "Bumble" in d["stack"] and "usb:0, usb:1" in d["stack"]


def test_real_stack_world_gives_its_transports_and_is_labelled_simulated(tmp_path):
    wj = tmp_path / "world.json"
    wj.write_text(json.dumps({"stack": "nimble", "hci": ["unix:/x/hci0.sock"]}))
    b = resolve_backend("bumble", world=wj)
    assert b.device_kwargs() == {"hci": ["unix:/x/hci0.sock"]} and b.simulated
    assert "NimBLE" in b.describe()["stack"] and "no air time" in b.describe()["stack"]
    wj.write_text(json.dumps({"air_socket": "a"}))  # a virtual-air world is not for bumble
    with pytest.raises(UserError, match="not a real-stack world"):
        resolve_backend("bumble", world=wj)
    with pytest.raises(UserError, match="cannot read the world file"):
        resolve_backend("bumble", world=tmp_path / "missing.json")


def test_new_links_go_to_the_dongle_with_the_fewest():
    async def go():
        loop_id = id(asyncio.get_running_loop())
        hosts = {}
        for spec, links in (("usb:0", 6), ("usb:1", 5)):
            h = bb._Host(spec)
            h.links = links
            hosts[(loop_id, spec)] = h
        saved = dict(bb._HOSTS)
        bb._HOSTS.update(hosts)
        try:
            c = bb.BumbleClient("C0:00:00:00:00:01", hci=["usb:0", "usb:1"])
            first = c._pick_spec()
            hosts[(loop_id, "usb:1")].links = 7
            return first, c._pick_spec()
        finally:
            bb._HOSTS.clear()
            bb._HOSTS.update(saved)

    assert asyncio.run(go()) == ("usb:1", "usb:0")


def test_demo_real_stack_runs_in_real_time_only():
    from myostride.commands.demo import check_args

    args = Namespace(nodes=4, condition="normal", seconds=20, loss=2.0, speed=2.0, radio="nimble")
    with pytest.raises(UserError, match="real time"):
        check_args(args)
    check_args(Namespace(nodes=4, condition="normal", seconds=20, loss=2.0, speed=1.0, radio="nimble"))
