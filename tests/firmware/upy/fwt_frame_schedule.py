"""Frames depend on the samples only: fixed boundaries from boot, seq in node-time order,
whatever the main loop's batching and whenever START or a same-settings CONFIGURE comes."""

from myowire import codec

from fwt_helpers import make_node, connect, command, run_for, eq


def _raw_frames(n, ble):
    """{seq: frame bytes} notified on DATA (MTU 247: whole frames)."""
    out = {}
    for note in ble.take_notes(n.radio.h_data):
        out[codec.check_frame(note)[4]] = bytes(note)
    return out


def _due_key(f):
    """A frame's due time: its last sample (EMG/IMU), its edge or stamp (FOOT/STATUS), in us."""
    d = codec.decode_frame(f)
    if d["type"] == "emg":
        k_last = (d["t0_us"] * 2000 + 999999) // 1000000 + d["count"] - 1
        return k_last * 1000000 // 2000
    if d["type"] == "imu":
        j_last = (d["t0_us"] * 100 + 999999) // 1000000 + d["count"] - 1
        return j_last * 1000000 // 100
    return d["t0_us"]


def test_same_samples_same_frames_whatever_the_batching_and_start_time():
    got = []
    for name, step_us, start_after_us, reconfigure in (("sched_a", 10000, 0, False), ("sched_b", 37000, 450000, True)):
        n, b, ble = make_node(name, imu_rates=(100, 200))
        connect(n, ble, 247)
        run_for(n, b, start_after_us + 1000, step_us)
        if reconfigure:  # the node's own settings again: no restart, no re-primed filter
            f, k0, end = n.filter, n.k0, n.emg_end
            args = codec.configure_args(2000, 20, 0, 100)
            eq(command(n, ble, 9, codec.C_CONFIGURE, args)["status"], codec.ACK_OK, "configure")
            assert n.filter is f and (n.k0, n.emg_end) == (k0, end), "same settings restarted the pipeline"
        first = command(n, ble, 1, codec.C_START)["value"]
        run_for(n, b, 2500000, step_us)
        command(n, ble, 2, codec.C_STOP)
        n.radio.pump()
        frames = _raw_frames(n, ble)
        eq(min(frames), first, "stream starts at START's seq")
        eq(sorted(frames), list(range(first, first + len(frames))), "no holes")
        got.append(frames)
    a, b = got
    assert min(b) > min(a), "the second node started later"
    common = [s for s in sorted(a) if s in b][:-2]  # (STOP flushes a partial frame)
    assert len(common) > 30, len(common)
    types = set()
    for s in common:
        eq(a[s], b[s], "frame %d" % s)
        types.add(codec.decode_frame(a[s])["type"])
    eq(sorted(types), ["emg", "imu", "status"], "frame types compared")
    keys = [_due_key(a[s]) for s in sorted(a)][:-2]
    eq(keys, sorted(keys), "seq follows node time across streams")
    emg = [codec.decode_frame(a[s]) for s in common if codec.decode_frame(a[s])["type"] == "emg"]
    for d in emg[1:]:
        eq(((d["t0_us"] * 2000 + 999999) // 1000000) % 113, 0, "EMG frames on multiples of 113 from boot")


def test_nominal_imu_rates_map_to_the_lsm6dso_odr():
    n, b, ble = make_node("sched_imu", imu_rates=(104, 208))
    connect(n, ble)
    r = command(n, ble, 1, codec.C_CONFIGURE, codec.configure_args(0, 0, 0, 200))
    eq(r["status"], codec.ACK_OK, r["message"])
    eq(n.cfg["imu_hz"], 208, "200 Hz asked, 208 Hz ODR")
    eq(command(n, ble, 2, codec.C_CONFIGURE, codec.configure_args(0, 0, 0, 100))["status"], codec.ACK_OK, "100")
    eq(n.cfg["imu_hz"], 104, "100 Hz asked, 104 Hz ODR")
    eq(n.status_fields()["imu_hz"], 104, "status reports the rate the IMU runs at")
    r = command(n, ble, 3, codec.C_CONFIGURE, codec.configure_args(0, 0, 0, 150))
    eq(r["status"], codec.ACK_BAD_ARGS, "150 Hz is no nominal rate")
    assert "imu_hz 150" in r["message"], r["message"]
