"""BLE behaviour against a fake stack: MTU sizing, fragments, ENOMEM back-off,
disconnect while sampling, reconnect + resend, one central at a time."""

import time

from myowire import codec, gatt

from fwt_helpers import make_node, connect, command, run_for, data_frames, eq


def _run_real(n, b, us, step_us=10000):
    """Advance node time while real milliseconds pass (the radio's back-off is in real time)."""
    end = b.t_us + us
    while b.t_us < end:
        b.t_us += step_us
        n.step()
        time.sleep_ms(1)


def _check_continuous(frames, hz=2000):
    """Seq has no holes and EMG sample indices follow each other exactly."""
    eq([f["seq"] for f in frames], list(range(frames[0]["seq"], frames[0]["seq"] + len(frames))), "seq")
    k_next = None
    for f in frames:
        if f["type"] != "emg":
            continue
        k0 = (f["t0_us"] * hz + 999999) // 1000000
        if k_next is not None:
            eq(k0, k_next, "EMG frame starts where the previous ended")
        k_next = k0 + f["count"]


def test_advertising_and_services():
    n, b, ble = make_node("radio_adv")
    assert ble.advertising
    assert len(ble.adv) <= 31
    ad = gatt.parse_advertising(ble.adv)
    eq(ad[0x09], b"myo-05", "name")
    eq(gatt.parse_manufacturer(ad[0xFF][2:])["node_id"], 5, "manufacturer data")
    eq(ble.resp, gatt.scan_response_payload(), "scan response has the service UUID")
    eq(ble.cfg.get("mtu"), 247, "preferred MTU")
    uuids = [c[0].value for c in ble.services[0][1]]
    eq(uuids, [gatt.DATA_UUID, gatt.CONTROL_UUID, gatt.REPLY_UUID], "characteristics")


def test_frames_sized_to_mtu_247():
    n, b, ble = make_node("radio_247")
    connect(n, ble, 247)
    command(n, ble, 1, codec.C_START)
    run_for(n, b, 1000000)
    notes = ble.take_notes(n.radio.h_data)
    assert all([len(x) <= 244 for x in notes])
    frames = [codec.decode_frame(x) for x in notes]  # no fragments at 247
    emg = [f for f in frames if f["type"] == "emg"]
    # frames are cut on multiples of 113 samples counted from boot: the one in progress at
    # START holds what is left of it, every later one 113
    eq(set([f["count"] for f in emg[1:]]), set([113]), "113 samples per EMG frame")
    eq((emg[1]["t0_us"] * 2000 + 999999) // 1000000 % 113, 0, "frame boundary from boot")
    _check_continuous(frames)


def test_fragments_at_mtu_23():
    n, b, ble = make_node("radio_23")
    connect(n, ble, 23)  # the fake stack asserts every notification is <= 20 bytes
    command(n, ble, 1, codec.C_START)
    run_for(n, b, 1000000)
    frames = data_frames(n, ble)
    emg = [f for f in frames if f["type"] == "emg"]
    eq(emg[1]["count"], codec.emg_samples_for_mtu(23), "fragmented frame size")
    assert sum([f["count"] for f in emg]) >= 1900
    assert any([f["type"] == "imu" for f in frames])
    _check_continuous(frames)


def test_enomem_backs_off_and_loses_nothing():
    n, b, ble = make_node("radio_enomem")
    connect(n, ble, 23)
    command(n, ble, 1, codec.C_START)
    for _ in range(6):
        ble.enomem_next = 7
        for _ in range(500):
            if not ble.enomem_next:
                break
            _run_real(n, b, 10000)
        eq(ble.enomem_next, 0, "the node kept retrying")
    for _ in range(400):  # let the backlog drain (node time barely moves)
        if not n.radio.pending():
            break
        _run_real(n, b, 1000, 1000)
    eq(n.radio.enomem, 42, "every ENOMEM seen")
    frames = data_frames(n, ble)
    eq(n.radio.pending(), 0, "backlog drained")
    eq(frames[-1]["seq"], n.store.next_seq - 1, "everything sent")
    _check_continuous(frames)


def test_reply_waits_for_buffer_space():
    n, b, ble = make_node("radio_reply")
    connect(n, ble)
    ble.enomem_next = 1
    ble.central_write(n.radio.h_control, codec.encode_command(5, 77, 0, codec.C_STATUS))
    n.process_commands()
    eq(ble.take_notes(n.radio.h_reply), [], "stack full")
    time.sleep_ms(5)
    n.step()
    r = codec.decode_frame(ble.take_notes(n.radio.h_reply)[0])
    eq((r["seq"], r["status"]), (77, codec.ACK_OK), "queued reply delivered")


def test_disconnect_keeps_sampling_and_resend_recovers_the_gap():
    n, b, ble = make_node("radio_reconnect")
    connect(n, ble)
    command(n, ble, 1, codec.C_START)
    run_for(n, b, 500000)
    before = data_frames(n, ble)
    ble.central_disconnect()
    assert ble.advertising, "advertising again"
    run_for(n, b, 2000000)  # still sampling into the store
    eq(ble.take_notes(), [], "nothing sent while disconnected")
    connect(n, ble)
    run_for(n, b, 300000)
    after = data_frames(n, ble)
    missing_first = before[-1]["seq"] + 1
    missing_last = after[0]["seq"] - 1
    assert missing_last - missing_first > 20, (missing_first, missing_last)
    r = command(n, ble, 2, codec.C_RESEND, codec.resend_args(missing_first, missing_last))
    eq((r["status"], r["value"]), (codec.ACK_OK, missing_last - missing_first + 1), "resend accepted")
    for _ in range(10):
        n.radio.pump()
    resent = data_frames(n, ble)
    allf = {}
    for f in before + resent + after:
        allf[f["seq"]] = f
    frames = [allf[s] for s in sorted(allf)]
    _check_continuous(frames)


def test_mtu_change_in_the_middle_of_a_fragmented_frame():
    """BLE MTU only grows (23 -> exchanged value): the half-sent frame keeps its fragment
    size and nothing is dropped. A shrink (not done by real stacks) restarts the frame."""
    for new_mtu in (247, 100, 23):
        n, b, ble = make_node("radio_mtu_mid")
        connect(n, ble, 64)
        command(n, ble, 1, codec.C_START)
        for _ in range(50):
            ble.enomem_after = 1  # the stack fills after one more notification
            time.sleep_ms(3)  # (the radio's back-off runs on real time)
            run_for(n, b, 10000)
            if n.radio._cur >= 0 and n.radio._cur_frag > 0:
                break
        assert n.radio._cur >= 0 and n.radio._cur_frag > 0, "a frame is half sent"
        ble.exchange_mtu(new_mtu)
        time.sleep_ms(5)
        run_for(n, b, 1000000)
        frames = data_frames(n, ble, allow_dropped=0 if new_mtu > 64 else 1)
        _check_continuous(frames)
        eq(frames[-1]["seq"], n.store.next_seq - 1, "all sent after MTU %d" % new_mtu)


def test_second_central_is_refused():
    n, b, ble = make_node("radio_two")
    connect(n, ble)
    ble.central_connect(conn=2)
    eq(ble.disconnected, [2], "second central disconnected")
    eq(n.radio.conn, 1, "first kept")


def test_overrun_is_flagged_and_timestamps_skip_the_lost_samples():
    n, b, ble = make_node("radio_overrun")
    connect(n, ble)
    command(n, ble, 1, codec.C_START)
    run_for(n, b, 200000)
    b.t_us += 1500000  # the main loop stalls 1.5 s: 3000 samples > 2048-sample ring
    n.step()
    run_for(n, b, 1100000)
    frames = data_frames(n, ble)
    lost = n.overrun_samples
    assert lost > 0, "overrun counted"
    emg = [f for f in frames if f["type"] == "emg"]
    jumps = 0
    for a, c in zip(emg, emg[1:]):
        ka = (a["t0_us"] * 2000 + 999999) // 1000000
        kc = (c["t0_us"] * 2000 + 999999) // 1000000
        if kc != ka + a["count"]:
            eq(kc - (ka + a["count"]), lost, "the jump is exactly the lost samples")
            jumps += 1
    eq(jumps, 1, "one gap")
    st = [f for f in frames if f["type"] == "status"][-1]
    assert st["flags"] & codec.F_OVERRUN
    eq(st["overrun_samples"], lost, "status counts them")


def test_disconnect_irq_in_the_middle_of_sending():
    n, b, ble = make_node("radio_drop_mid")
    connect(n, ble, 23)
    command(n, ble, 1, codec.C_START)
    run_for(n, b, 100000)
    ble.take_notes()
    real_notify = ble.gatts_notify
    calls = [0]

    def notify_then_drop(conn, handle, data=None):
        r = real_notify(conn, handle, data)
        if handle == n.radio.h_reply:
            calls[0] += 1
            if calls[0] == 1:  # link lost right after the first piece of the reply
                ble.connected.discard(conn)
                ble.handler(2, (conn, 0, b"\x00" * 6))
        return r

    ble.gatts_notify = notify_then_drop
    ble.central_write(n.radio.h_control, codec.encode_command(5, 2, 0, codec.C_STATUS))
    n.radio._busy = True  # the reply waits for pump(), which is then sending when the link drops
    n.process_commands()
    n.radio._busy = False
    run_for(n, b, 200000)  # must not raise
    eq(calls[0], 1, "the drop happened inside a reply")
    eq(n.radio.conn, None, "disconnected")
    assert ble.advertising
    ble.gatts_notify = real_notify
    ble.take_notes()  # what went out before the drop (a half frame among it)
    connect(n, ble, 247)
    run_for(n, b, 300000)
    frames = data_frames(n, ble)  # the new link starts clean: nothing dropped
    assert len(frames) > 3
    _check_continuous(frames)


def test_advertising_refused_at_boot_is_retried():
    """NimBLE over HCI can refuse the first gap_advertise while its controller starts (OSError -21):
    the node keeps sampling and advertises from the main loop, instead of dying at boot."""
    import bluetooth

    bluetooth.BLE.adv_refusals = 2
    n, b, ble = make_node("advretry")
    eq(ble.advertising, False, "advertising after a refusal")
    run_for(n, b, 1000000)
    eq(ble.advertising, True, "advertising once the stack accepts")
    eq(ble.adv_refuse, 0, "both refusals consumed")
    connect(n, ble)
    r = command(n, ble, 5, codec.C_STATUS)
    eq(r["type"], "ack", "a node that was refused at boot answers commands")


def test_advertising_refused_for_good_restarts_the_stack():
    """NimBLE that came up without an identity address refuses every advertise (BLE_HS_ENOADDR):
    after a few refusals the node restarts its stack, registers its service again and advertises."""
    import bluetooth

    bluetooth.BLE.adv_refusals = 1000000  # until the stack is restarted
    n, b, ble = make_node("advrestart")
    run_for(n, b, 2000000)
    eq(getattr(ble, "restarts", 0), 1, "one stack restart")
    eq(ble.advertising, True, "advertising after the restart")
    connect(n, ble)
    r = command(n, ble, 7, codec.C_STATUS)
    eq(r["type"], "ack", "the restarted node answers on its re-registered handles")
