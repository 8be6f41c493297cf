"""One node on the real stacks (NimBLE in MicroPython, Bumble host) through every command of
protocol/SPEC.md: status, configure, identify, sync, start, resend, stop."""

import asyncio
import time

import pytest
from bleak import BleakScanner

from myowire import codec, gatt
from myostride.acquire.bumble_backend import BumbleClient, BumbleScanner
from myostride.acquire.link import NodeLink

from rs_helpers import node_logs, real_world

pytestmark = pytest.mark.slow


def _clock_us():
    return time.monotonic_ns() // 1000


async def _session(hci, node_id):
    found = asyncio.get_running_loop().create_future()

    def seen(dev, adv):
        if adv.local_name == gatt.node_name(node_id) and not found.done():
            found.set_result(dev)

    async with asyncio.timeout(20):
        async with BleakScanner(seen, backend=BumbleScanner, hci=hci):
            device = await found
    frames = {}
    link = NodeLink(node_id, device, _clock_us, lambda n, t, f: frames.setdefault(codec.decode_frame(f)["seq"], []).append(f),
                    lambda *a: None, lambda *a: None, client_cls=BumbleClient, client_kwargs={"hci": hci})
    out = {}
    async with asyncio.timeout(60):
        await link.connect()
        try:
            out["mtu"] = link.mtu
            _f, _t1, out["status"] = await link.send(codec.C_STATUS, timeout_s=3)
            out["status_frame"] = await link.read_status()
            _f, _t1, out["configure"] = await link.send(
                codec.C_CONFIGURE, codec.configure_args(2000, 20, 50, 100, label="TA test"), timeout_s=3)
            _f, _t1, out["identify"] = await link.send(codec.C_IDENTIFY, bytes((2,)), timeout_s=3)
            _f, t1, sync = await link.send(codec.C_SYNC, timeout_s=3)
            out["sync"], out["sync_t1"] = sync, t1
            _f, _t1, out["start"] = await link.send(codec.C_START, timeout_s=3)
            await asyncio.sleep(2.0)
            before = {s: len(v) for s, v in frames.items()}
            lo, hi = min(before), min(before) + 9
            _f, _t1, out["resend"] = await link.send(codec.C_RESEND, codec.resend_args(lo, hi), timeout_s=3)
            await asyncio.sleep(1.0)
            out["resent"] = [s for s in range(lo, hi + 1) if len(frames.get(s, ())) >= 2]
            _f, _t1, out["stop"] = await link.send(codec.C_STOP, timeout_s=5)
            await asyncio.sleep(1.0)
            n_after_stop = len(frames)
            await asyncio.sleep(1.0)
            out["frames_after_stop"] = len(frames) - n_after_stop
            out["frames"] = frames
        finally:
            await link.disconnect()
    return out


def test_one_node_every_command_on_real_stacks(tmp_path, nimble_exe):
    sc, world = real_world(tmp_path, 1, nimble_exe, seconds=60)
    with world:
        try:
            out = asyncio.run(_session(world.hci, 1))
        except BaseException:
            print(node_logs(world))
            raise
    assert out["mtu"] == 247  # asked by the Bumble central; NimBLE never starts the exchange
    for name in ("status", "configure", "identify", "start", "resend", "stop"):
        ack = out[name]
        assert ack["type"] == "ack" and ack["status"] == codec.ACK_OK, (name, ack)
    assert out["status_frame"]["type"] == "status"
    sync = out["sync"]
    assert sync["type"] == "sync" and sync["t2_us"] <= sync["t3_us"] and sync["t1_us"] == out["sync_t1"]
    assert len(out["frames"]) > 50  # ~2 s of 2 kHz EMG plus IMU and status
    assert len(out["resent"]) == 10, out["resent"]  # every frame of the range came twice
    assert out["frames_after_stop"] == 0
