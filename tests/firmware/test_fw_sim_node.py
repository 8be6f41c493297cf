"""The real node loop on the simulated board (node files from myosim.nodefiles):
every sample of every frame is the filtered file content at the right index."""

import struct
import sys

import numpy as np
from scipy import signal

from upyharness import ROOT, run_upy

sys.path.insert(0, str(ROOT / "tests" / "firmware"))
from test_fw_filters import quantised_sos, sections  # noqa: E402

from myosim import nodefiles  # noqa: E402
from myowire import codec  # noqa: E402

PATH = ["tests/firmware/upy", "tests/firmware/upy/fake_ble", "firmware", "protocol"]
RUNNER = str(ROOT / "tests" / "firmware" / "upy" / "fwt_sim_run.py")


def _notes(path):
    raw = path.read_bytes()
    i = 0
    while i < len(raw):
        (n,) = struct.unpack_from("<H", raw, i)
        yield raw[i + 2 : i + 2 + n]
        i += 2 + n


def _run(tmp_path, mtu, speed=8.0, seconds_real=0.8):
    fs, imu_hz = 2000, 100
    dur = 40
    rng = np.random.default_rng(11)
    emg = np.clip(rng.standard_normal(fs * dur) * 2000 + 3000, -30000, 30000).astype(np.int16)
    imu = (np.arange(imu_hz * dur * 6) % 20000).reshape(-1, 6).astype(np.int16)
    drift = 1 + 80e-6
    knots = [(g, int(round(g * 1e6 * drift)) + 777) for g in range(0, dur + 2)]
    world = tmp_path / "world.json"
    nodefiles.write_world(world, tmp_path / "air.sock", tmp_path / "host.sock", seconds=dur, speed=speed)
    lead = [(fs * 5, fs * 5 + 500)]
    foot = [(fs * 3 + 17, 0, 1), (fs * 3 + 900, 0, 0), (fs * 4 + 5, 1, 1)]
    node_json = nodefiles.write_node_dir(
        tmp_path / "n1", 4, emg, knots, world, emg_hz=fs, imu=imu, imu_hz=imu_hz, foot=foot, lead_off=lead
    )
    out = tmp_path / "notes.bin"
    env_node = str(node_json)
    import os

    os.environ["MYOSTRIDE_SIM_NODE"] = env_node
    try:
        p = run_upy([RUNNER, str(seconds_real), str(mtu), str(out)], path=PATH, heapsize="4m", timeout=60)
    finally:
        del os.environ["MYOSTRIDE_SIM_NODE"]
    assert p.returncode == 0, p.stdout + p.stderr
    k_first = int(p.stdout.split("k_first")[1].split()[0])
    ra = codec.Reassembler()
    frames = [codec.decode_frame(f) for f in (ra.feed(n) for n in _notes(out)) if f is not None]
    assert ra.dropped == 0
    return frames, emg, imu, k_first, fs, imu_hz, p.stdout


def _check(frames, emg, imu, k_first, fs, imu_hz):
    assert [f["seq"] for f in frames] == list(range(len(frames)))
    # the node primes its filter with the first sample it sees (steady state for that DC level)
    sos = quantised_sos(sections(fs, 20, 2, 0))
    x = emg[k_first:].astype(float)
    ref = np.floor(signal.sosfilt(sos, x, zi=signal.sosfilt_zi(sos) * x[0])[0] + 0.5)
    em = [f for f in frames if f["type"] == "emg"]
    assert sum(f["count"] for f in em) > 2 * fs  # seconds of streaming
    k_next = None
    for f in em:
        k0 = -(-f["t0_us"] * fs // 1000000)  # ceil: t0 = floor(k0 * 1e6 / fs)
        assert f["t0_us"] == k0 * 1000000 // fs
        if k_next is not None:
            assert k0 == k_next, "samples continue without gaps"
        k_next = k0 + f["count"]
        got = np.array(f["samples"])
        want = ref[k0 - k_first : k0 - k_first + f["count"]]
        assert np.abs(got - want).max() <= 1, "frame seq %d differs from the filtered file" % f["seq"]
    for f in (f for f in frames if f["type"] == "imu"):
        j0 = -(-f["t0_us"] * imu_hz // 1000000)
        assert np.array_equal(np.array(f["samples"]), imu[j0 : j0 + f["count"]])
    return em


def test_sim_node_streams_the_files_exactly_at_mtu_247(tmp_path):
    frames, emg, imu, k_first, fs, imu_hz, out = _run(tmp_path, 247)
    em = _check(frames, emg, imu, k_first, fs, imu_hz)
    assert {f["count"] for f in em[:-1]} == {113}
    assert "overrun 0" in out
    st = [f for f in frames if f["type"] == "status"]
    assert len(st) >= 3
    assert all(s["flags"] & codec.F_STREAMING for s in st)
    assert all(s["firmware"] == [0, 1, 0] and s["emg_hz"] == 2000 for s in st)
    assert all(s["selftest"] == codec.S_AFE | codec.S_IMU | codec.S_CLOCK | codec.S_STORAGE for s in st)
    foot = [f for f in frames if f["type"] == "foot"]
    t_s = [f["t0_us"] / 1e6 for f in foot]
    k_start = em[0]["t0_us"] * fs // 1000000
    assert k_start < fs * 3, "streaming starts before the first footswitch edge"
    assert [e["events"][0][1:] for e in foot] == [[0, 1], [0, 0], [1, 1]]
    assert abs(t_s[0] - (fs * 3 + 17) / fs) < 1e-3
    # lead-off (samples 10000-10500 = 5.0-5.25 s) is flagged by the next status, and only then
    t_lead = [s_["t0_us"] / 1e6 for s_ in st if s_["flags"] & codec.F_LEAD_OFF]
    assert t_lead and all(5.0 <= t <= 6.3 for t in t_lead), t_lead


def test_sim_node_at_mtu_23_fragments(tmp_path):
    frames, emg, imu, k_first, fs, imu_hz, _ = _run(tmp_path, 23, speed=5.0, seconds_real=0.6)
    em = _check(frames, emg, imu, k_first, fs, imu_hz)
    assert em[0]["count"] == codec.emg_samples_for_mtu(23)


def test_boots_and_streams_in_a_256k_heap_with_a_ten_minute_session(tmp_path):
    """A 10-minute node directory (600 clock knots, 1200 footswitch edges) must not exhaust
    an ESP32-sized heap with every module compiled from source."""
    import os

    fs, dur = 2000, 600
    world = tmp_path / "world.json"
    nodefiles.write_world(world, tmp_path / "a.sock", tmp_path / "h.sock", seconds=dur, speed=4.0)
    node_json = nodefiles.write_node_dir(
        tmp_path / "n1", 2, np.zeros(fs * dur, np.int16), [(g, g * 1_000_000) for g in range(dur + 2)], world,
        emg_hz=fs, imu=np.zeros((100 * dur, 6), np.int16), imu_hz=100, foot=[(k, 0, (k // 1000) % 2) for k in range(0, fs * dur, 1000)],
    )
    os.environ["MYOSTRIDE_SIM_NODE"] = str(node_json)
    try:
        p = run_upy([str(ROOT / "tests" / "firmware" / "upy" / "fwt_boot_small_heap.py")], path=PATH, heapsize="256k", timeout=60)
    finally:
        del os.environ["MYOSTRIDE_SIM_NODE"]
    assert p.returncode == 0 and "booted" in p.stdout, p.stdout + p.stderr
    line = [x for x in p.stdout.splitlines() if x.startswith("booted")][0].split()
    kv = dict(zip(line[1::2], map(int, line[2::2])))
    assert kv["store_kb"] >= 70 and kv["frames"] > 20 and kv["notes"] > 100 and kv["free"] > 20000, kv
