"""Every command through the node's BLE write path, with good and bad arguments."""

import json

from myowire import codec

from fwt_helpers import make_node, connect, command, run_for, data_frames, eq


def _streaming_node(name):
    n, b, ble = make_node(name)
    connect(n, ble)
    r = command(n, ble, 1, codec.C_START)
    eq(r["status"], codec.ACK_OK, "start")
    return n, b, ble


def test_start_streams_and_stop_ends_with_a_flushed_frame():
    n, b, ble = _streaming_node("cmd_start")
    eq(command(n, ble, 2, codec.C_START)["message"], "already streaming", "idempotent")
    run_for(n, b, 500000)
    r = command(n, ble, 3, codec.C_STOP)
    eq(r["status"], codec.ACK_OK, "stop")
    n.step()
    frames = data_frames(n, ble)
    eq(r["value"], len(frames), "stop ack value = next seq")
    emg = [f for f in frames if f["type"] == "emg"]
    total = sum([f["count"] for f in emg])
    assert 990 <= total <= 1010, total  # 0.5 s at 2 kHz, last partial frame flushed
    eq([f["seq"] for f in frames], list(range(len(frames))), "contiguous seq")
    run_for(n, b, 200000)
    eq(data_frames(n, ble), [], "nothing after stop")


def test_commands_wait_for_the_main_loop_but_sync_does_not():
    n, b, ble = make_node("cmd_defer")
    connect(n, ble)
    h = n.radio.h_control
    ble.central_write(h, codec.encode_command(5, 1, 0, codec.C_START))
    eq(ble.take_notes(n.radio.h_reply), [], "start waits for the loop")
    eq(n.streaming, False, "not yet")
    ble.central_write(h, codec.encode_command(5, 2, 0, codec.C_SYNC))
    eq(codec.decode_frame(ble.take_notes(n.radio.h_reply)[0])["type"], "sync", "sync at once")
    n.step()
    eq(n.streaming, True, "started by the loop")
    eq(codec.decode_frame(ble.take_notes(n.radio.h_reply)[0])["seq"], 1, "start acked")
    for i in range(12):  # more than the queue holds
        ble.central_write(h, codec.encode_command(5, 10 + i, 0, codec.C_STATUS))
    busy = [codec.decode_frame(x) for x in ble.take_notes(n.radio.h_reply)]
    eq([r["status"] for r in busy], [codec.ACK_BUSY] * 4, "overflow answered busy")
    n.step()
    eq(len(ble.take_notes(n.radio.h_reply)), 8, "the queued ones answered")


def test_sync_while_the_radio_is_sending_is_stamped_when_sent():
    n, b, ble = make_node("cmd_sync_busy")
    connect(n, ble)
    n.radio._busy = True  # as if the IRQ ran in the middle of pump()
    b.t_us += 1000
    ble.central_write(n.radio.h_control, codec.encode_command(5, 3, 0, codec.C_SYNC))
    eq(ble.take_notes(n.radio.h_reply), [], "queued")
    t2 = n.clock.now_us()
    b.t_us += 5000
    n.radio._busy = False
    n.radio.pump()
    r = codec.decode_frame(ble.take_notes(n.radio.h_reply)[0])
    eq((r["t2_us"], r["t3_us"]), (t2, t2 + 5000), "t3 when actually notified")


def test_sync_reply_has_receive_and_send_times():
    n, b, ble = make_node("cmd_sync")
    connect(n, ble)
    b.t_us = 7000000
    ble.central_write(n.radio.h_control, codec.encode_command(n.cfg["node_id"], 42, 987654321, codec.C_SYNC))
    notes = ble.take_notes(n.radio.h_reply)
    r = codec.decode_frame(notes[0])
    eq(r["type"], "sync", "type")
    eq(r["seq"], 42, "echo id")
    eq(r["t1_us"], 987654321, "t1 echoed")
    eq(r["t2_us"], n.clock.now_us(), "t2 = node clock at the write")
    assert r["t3_us"] >= r["t2_us"]


def test_configure_validates_and_persists():
    n, b, ble = make_node("cmd_cfg")
    connect(n, ble)
    ok = codec.configure_args(1926, 15, 60, 200, label="VL right", new_node_id=12)
    r = command(n, ble, 1, codec.C_CONFIGURE, ok)
    eq(r["status"], codec.ACK_OK, r["message"])
    eq(n.cfg["node_id"], 12, "new id")
    eq(n.emg_n, 113, "frame size still follows the link's MTU")
    with open(b.fs_dir + "/config.json") as f:
        saved = json.load(f)
    eq((saved["emg_hz"], saved["highpass_hz"], saved["powerline_hz"], saved["imu_hz"], saved["label"]), (1926, 15, 60, 200, "VL right"), "saved")
    off = codec.configure_args(0, 0, 0, 0, flags=codec.CFG_POWERLINE_OFF | codec.CFG_IMU_OFF | codec.CFG_CLEAR_LABEL)
    eq(command(n, ble, 2, codec.C_CONFIGURE, off)["status"], codec.ACK_OK, "switch off")
    eq((n.cfg["powerline_hz"], n.cfg["imu_hz"], n.cfg["label"]), (0, 0, ""), "off")
    bad = [
        codec.configure_args(1500, 0, 0, 0),
        codec.configure_args(0, 25, 0, 0),
        codec.configure_args(0, 0, 55, 0),
        codec.configure_args(0, 0, 50, 0, flags=codec.CFG_POWERLINE_OFF),
        codec.configure_args(0, 0, 0, 100, flags=codec.CFG_IMU_OFF),
        codec.configure_args(0, 0, 0, 0, new_node_id=255),
        codec.configure_args(0, 0, 0, 0, label="x", flags=codec.CFG_CLEAR_LABEL),
        codec.configure_args(0, 0, 0, 0, flags=0x80),
        b"\x01\x02",  # truncated arguments
    ]
    for i, args in enumerate(bad):
        r = command(n, ble, 10 + i, codec.C_CONFIGURE, args, to=12)
        eq(r["status"], codec.ACK_BAD_ARGS, "bad configure %d (%s)" % (i, r["message"]))
        assert r["message"], "bad args explained"
    eq(n.cfg["emg_hz"], 1926, "unchanged by bad commands")
    command(n, ble, 30, codec.C_START, to=12)
    r = command(n, ble, 31, codec.C_CONFIGURE, codec.configure_args(0, 10, 0, 0), to=12)
    eq(r["status"], codec.ACK_STATE, "no configure while streaming")


def test_resend_ok_gone_and_bad_ranges():
    n, b, ble = _streaming_node("cmd_resend")
    run_for(n, b, 300000)
    first = data_frames(n, ble)
    last_seq = first[-1]["seq"]
    r = command(n, ble, 2, codec.C_RESEND, codec.resend_args(2, 4))
    eq((r["status"], r["value"]), (codec.ACK_OK, 3), "resend ok")
    n.radio.pump()
    again = data_frames(n, ble)
    eq([f["seq"] for f in again], [2, 3, 4], "resent seqs")
    eq(again, first[2:5], "byte-identical content")
    r = command(n, ble, 3, codec.C_RESEND, codec.resend_args(last_seq + 5, last_seq + 9))
    eq(r["status"], codec.ACK_BAD_ARGS, "future range")
    r = command(n, ble, 4, codec.C_RESEND, codec.resend_args(4, 2))
    eq(r["status"], codec.ACK_BAD_ARGS, "reversed range")
    # run until the oldest frames are evicted from the store
    while n.store.oldest_seq() < 5:
        run_for(n, b, 1000000, 20000)
        data_frames(n, ble)
    oldest = n.store.oldest_seq()
    r = command(n, ble, 5, codec.C_RESEND, codec.resend_args(0, oldest + 1))
    eq((r["status"], r["value"]), (codec.ACK_GONE, oldest), "gone, value = oldest held")
    n.radio.pump()
    eq([f["seq"] for f in data_frames(n, ble)], [oldest, oldest + 1], "held part still resent")


def test_store_holds_at_least_ten_seconds():
    n, b, ble = _streaming_node("cmd_hold")
    run_for(n, b, 14000000, 50000)
    data_frames(n, ble)  # drains the notifications (and checks no fragment was lost)
    st = n.store
    emg = [st.frame(s) for s in range(st.oldest_seq(), st.next_seq)]
    emg = [codec.decode_frame(f) for f in emg]
    emg = [f for f in emg if f["type"] == "emg"]
    span_us = emg[-1]["t0_us"] - emg[0]["t0_us"]
    assert span_us >= 10000000, span_us


def test_status_identify_reboot():
    n, b, ble = _streaming_node("cmd_misc")
    run_for(n, b, 100000)
    data_frames(n, ble)
    r = command(n, ble, 2, codec.C_STATUS)
    eq(r["status"], codec.ACK_OK, "status")
    n.radio.pump()
    frames = data_frames(n, ble)
    st = [f for f in frames if f["type"] == "status"]
    eq(len(st), 1, "status frame on DATA")
    eq(st[0]["seq"], r["value"], "ack value = status seq")
    eq(st[0]["firmware"], [0, 1, 0], "firmware version")
    assert st[0]["flags"] & codec.F_STREAMING and st[0]["flags"] & codec.F_CONNECTED
    eq((st[0]["emg_hz"], st[0]["highpass_hz"], st[0]["nv_per_lsb"]), (2000, 20, 500), "config in status")
    eq(st[0]["filter_flags"], codec.FF_HIGHPASS, "2nd-order high-pass, no notch")
    r = command(n, ble, 3, codec.C_IDENTIFY, b"\x05")
    eq((r["status"], b.identified), (codec.ACK_OK, 5), "identify")
    seq_before = n.store.next_seq
    r = command(n, ble, 4, codec.C_REBOOT)
    eq(r["status"], codec.ACK_OK, "reboot ack first")
    run_for(n, b, 300000)
    data_frames(n, ble)
    eq(n.radio.conn, None, "link dropped")
    assert ble.advertising
    eq(b.resets, 1, "reset called")
    eq(n.streaming, False, "not streaming after reboot")
    # frames are numbered from boot, streaming or not: the store holds only frames since the reboot
    eq(n.store.oldest_seq(), 0, "seq restarts at 0, store emptied")
    assert 0 < n.store.next_seq < seq_before, (n.store.next_seq, seq_before)
    connect(n, ble)
    r = command(n, ble, 5, codec.C_START)
    run_for(n, b, 100000)
    eq(data_frames(n, ble)[0]["seq"], r["value"], "first frame after reboot = START's value")
    assert r["value"] < seq_before


def test_unknown_malformed_and_misaddressed_commands():
    n, b, ble = make_node("cmd_bad")
    connect(n, ble)
    h = n.radio.h_control
    nid = n.cfg["node_id"]
    payload = bytes([0x42])
    frame = codec.encode_frame(codec.T_CMD, nid, 9, 0, payload)
    ble.central_write(h, frame)
    n.process_commands()
    r = codec.decode_frame(ble.take_notes(n.radio.h_reply)[0])
    eq((r["seq"], r["status"], r["opcode"]), (9, codec.ACK_UNKNOWN, 0x42), "unknown opcode")
    good = bytearray(codec.encode_command(nid, 10, 0, codec.C_START))
    good[-1] ^= 0xFF
    ble.central_write(h, good)
    n.process_commands()
    r = codec.decode_frame(ble.take_notes(n.radio.h_reply)[0])
    eq((r["seq"], r["status"]), (10, codec.ACK_BAD_ARGS), "bad CRC")
    assert "CRC" in r["message"], r["message"]
    r = command(n, ble, 11, codec.C_IDENTIFY, b"", to=nid)
    eq(r["status"], codec.ACK_BAD_ARGS, "identify without its byte")
    r = command(n, ble, 12, codec.C_START, to=nid + 1)
    eq(r["status"], codec.ACK_BAD_ARGS, "other node's command")
    eq(n.streaming, False, "not started by it")
    r = command(n, ble, 13, codec.C_START, to=codec.BROADCAST)
    eq(r["status"], codec.ACK_OK, "broadcast accepted")
    ble.central_write(h, b"\x71\x05")
    n.process_commands()
    r = codec.decode_frame(ble.take_notes(n.radio.h_reply)[0])
    eq(r["status"], codec.ACK_BAD_ARGS, "truncated frame")


def test_heap_is_steady_while_streaming():
    """After the frame store has filled once, streaming does not grow the heap."""
    import gc

    n, b, ble = _streaming_node("cmd_heap")
    for _ in range(15):  # 15 s: the store wraps (12 s)
        run_for(n, b, 1000000, 20000)
        ble.take_notes()
    gc.collect()
    a0 = gc.mem_alloc()
    for _ in range(20):
        run_for(n, b, 1000000, 20000)
        ble.take_notes()
    gc.collect()
    a1 = gc.mem_alloc()
    assert a1 - a0 < 2048, "heap grew by %d bytes over 20 s of streaming" % (a1 - a0)
    assert n.store.evicted > 0
