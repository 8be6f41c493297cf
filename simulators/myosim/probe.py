"""A minimal central for a running simulated world: connect, start, collect frames.

Why: the simulator's own benchmark and determinism checks need the frames the
real firmware sends, without depending on the host recorder. It uses only
bleak's public API with the simulator backend and the shared wire codec, like
any host would. It does not recover lost frames (that is the recorder's job).

    frames, replies, started = asyncio.run(collect_frames(world_json, node_ids, duration_s=10.0))
    # frames: {node_id: {seq: frame bytes}} of DATA frames (EMG, IMU, FOOT, STATUS)
"""

import asyncio

from bleak import BleakClient, BleakScanner

from myowire import codec, gatt

from .backend import SimClient, SimScanner, host_clock_us, load_world


async def find_nodes(world_json, node_ids, timeout_s=10.0):
    """{node_id: BLEDevice} for the wanted node ids (advertised names myo-NN)."""
    want = {gatt.node_name(n): n for n in node_ids}
    found = {}
    done = asyncio.Event()

    def seen(device, adv):
        name = adv.local_name or device.name
        if name in want and want[name] not in found:
            found[want[name]] = device
            if len(found) == len(want):
                done.set()

    async with BleakScanner(seen, backend=SimScanner, world=str(world_json)):
        try:
            async with asyncio.timeout(timeout_s):
                await done.wait()
        except TimeoutError:
            pass
    missing = sorted(set(node_ids) - set(found))
    if missing:
        raise RuntimeError("nodes not advertising within %.0f s: %s" % (timeout_s, missing))
    return found


async def _stream_one(node_id, device, world_json, world, until_g_s, duration_s, frames, replies, started):
    data_asm, reply_asm = codec.Reassembler(), codec.Reassembler()
    mine = frames.setdefault(node_id, {})

    def on_data(_c, note):
        f = data_asm.feed(note)
        if f is not None:
            try:
                _t, _n, _e, _c2, seq, _t0 = codec.check_frame(f)
            except codec.WireError:
                return
            mine[seq] = bytes(f)

    def on_reply(_c, note):
        f = reply_asm.feed(note)
        if f is not None:
            replies.append((node_id, bytes(f)))

    async with BleakClient(device, backend=SimClient, world=str(world_json), timeout=15.0) as client:
        await client.start_notify(gatt.REPLY_UUID, on_reply)
        await client.start_notify(gatt.DATA_UUID, on_data)
        t_start_us = host_clock_us(world)
        cmd = codec.encode_command(node_id, 1, t_start_us, codec.C_START)
        await client.write_gatt_char(gatt.CONTROL_UUID, cmd, response=False)
        started[node_id] = t_start_us / 1e6
        end_us = until_g_s * 1e6 if duration_s is None else t_start_us + duration_s * 1e6
        while client.is_connected and host_clock_us(world) < end_us:
            await asyncio.sleep(0.05)
        if not client.is_connected:
            started.setdefault("links_lost", []).append((node_id, host_clock_us(world) / 1e6))


async def collect_frames(world_json, node_ids, until_g_s=None, duration_s=None, scan_timeout_s=10.0):
    """Connect to every node, send START, keep every DATA frame until global time
    until_g_s, or for duration_s of global time after each node's START.

    Returns ({node_id: {seq: frame bytes}}, [(node_id, reply frame bytes)],
    {node_id: global time START was sent, "links_lost": [(node_id, g_s), ...] if any
    link dropped before the end})."""
    if (until_g_s is None) == (duration_s is None):
        raise ValueError("give until_g_s or duration_s")
    world = load_world(world_json)
    devices = await find_nodes(world_json, node_ids, scan_timeout_s)
    frames, replies, started = {}, [], {}
    await asyncio.gather(*[_stream_one(n, devices[n], world_json, world, until_g_s, duration_s, frames, replies,
                                       started) for n in node_ids])
    return frames, replies, started


def emg_coverage(frames, emg_hz):
    """Per node: (EMG samples received, samples spanned from the first to the last EMG frame)."""
    out = {}
    for node_id, per in frames.items():
        got, k_lo, k_hi = 0, None, None
        for f in per.values():
            ftype, _n, enc, count, _seq, t0 = codec.check_frame(f)
            if ftype != codec.T_EMG:
                continue
            n = count * ((enc >> 4) + 1)
            k0 = -(-t0 * emg_hz // 1000000)  # t0 = floor(k0 * 1e6 / emg_hz)
            got += n
            k_lo = k0 if k_lo is None else min(k_lo, k0)
            k_hi = k0 + count if k_hi is None else max(k_hi, k0 + count)
        out[node_id] = (got, 0 if k_lo is None else k_hi - k_lo)
    return out
