"""The live view reads exactly what the recorder wrote: buckets, scale, badges, late frames, partial records."""

import math

import numpy as np

from myowire import codec

from myostride.acquire import rawlog
from myostride.console.livefeed import BUCKET_S, LiveFeed

EMG_HZ = 2000
OFFSET_US = 2_000_000  # host = node + 2 s
START_US = 10_000_000


def _write_session(path, codes, frame_n=100, late=None):
    w = rawlog.RawLogWriter(path)
    w.event(START_US, "session_start", mapping=[{"node_id": 3, "side": "left", "muscle": "soleus", "label": "node03"}],
            config={"emg_hz": EMG_HZ, "imu_hz": 0})
    w.event(START_US, "connected", node_id=3, rssi_dbm=-61, battery_pct=88)
    for k in range(5):  # symmetric, zero-delay exchanges: offset exactly OFFSET_US
        h = START_US + k * 1000
        w.sync_exchange(3, h, h, h - OFFSET_US, h - OFFSET_US, h)
    st = {"battery_mv": 3900, "battery_pct": 77, "flags": codec.F_LEAD_OFF, "selftest": 15, "emg_hz": EMG_HZ,
          "nv_per_lsb": 500, "imu_hz": 0, "firmware": (0, 1, 0), "label": "L_soleus"}
    w.append(rawlog.K_DATA, 3, START_US, codec.encode_status(3, 0, 0, st))
    k0_node = START_US - OFFSET_US  # node time of session start
    frames = []
    for i in range(0, len(codes), frame_n):
        t0 = int((k0_node // 500 + i) * 500)
        frames.append((i, codec.encode_emg(3, 1 + i // frame_n, t0, list(codes[i:i + frame_n]))))
    order = list(frames)
    if late is not None:  # frame index `late` arrives after all the others (a resend)
        order = frames[:late] + frames[late + 1:] + [frames[late]]
    for i, fr in order:
        w.append(rawlog.K_DATA, 3, START_US + 1000 + i * 500, fr)
    w.close()


def test_buckets_scale_badges_and_partial_records(tmp_path):
    n = 2000  # one second
    t = np.arange(n) / EMG_HZ
    codes = np.round(1000 * np.sin(2 * math.pi * 100 * t)).astype(np.int16)
    codes[500:510] = 32767  # ten samples at the rail
    path = tmp_path / "raw.log"
    _write_session(path, codes)
    data = path.read_bytes()
    cut = len(data) - 7  # the recorder is mid-write: the last record is incomplete
    path.write_bytes(data[:cut])
    feed = LiveFeed(path, wall_offset_us=0)
    first = feed.poll()
    rows = first["nodes"][3]
    assert rows and all(len(r) == 4 for r in rows)
    # 20 samples per 10 ms bucket = one period of the 100 Hz sine; it peaks at +/-1000 codes = +/-500 uV at 500 nV/LSB.
    full = [r for r in rows if r[0] < 0.24]
    assert abs(full[3][1] + 500) < 1 and abs(full[3][2] - 500) < 1
    times = [r[0] for r in rows]
    assert times == sorted(times) and abs(times[1] - times[0] - BUCKET_S) < 1e-9
    assert abs(times[0]) < 0.02  # session time: node clock mapped by the logged sync exchanges
    b = first["badges"][3]
    assert b["battery_pct"] == 77 and b["lead_off"] is True and b["rssi_dbm"] == -61
    assert 0 < b["clipping_pct"] < 1.0
    assert "arrival_wall_ms" in first
    # The rest of the file arrives: the feed continues where it stopped, nothing twice.
    path.write_bytes(data)
    second = feed.poll()
    assert second["nodes"][3][0][0] > rows[-1][0]


def test_a_late_resent_frame_does_not_redraw_the_past(tmp_path):
    codes = np.full(1000, 200, dtype=np.int16)
    path = tmp_path / "raw.log"
    _write_session(path, codes, late=2)
    feed = LiveFeed(path, wall_offset_us=None)
    out = feed.poll()
    times = [r[0] for r in out["nodes"][3]]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert "arrival_wall_ms" not in out  # no wall clock offset given: no latency claim
