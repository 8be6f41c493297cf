"""Synthetic sessions for host acquisition unit tests: frames built with the real codec.

A fake node has a drifting clock (node_us = offset + g * (1 + ppm)); its EMG
codes are a deterministic ramp so tests can check order and completeness.
"""

import numpy as np

from myowire import codec
from myostride.acquire import rawlog


class FakeNode:
    def __init__(self, node_id, offset_us=3_000_000, ppm=50.0, emg_hz=2000, per_frame=113, nv_per_lsb=500):
        self.node_id = node_id
        self.offset_us = offset_us
        self.ppm = ppm
        self.emg_hz = emg_hz
        self.per_frame = per_frame
        self.nv = nv_per_lsb
        self.seq = 0
        self.k = 0

    def node_us(self, g_us):
        return int(self.offset_us + g_us * (1 + self.ppm * 1e-6))

    def global_us(self, node_us):
        return (node_us - self.offset_us) / (1 + self.ppm * 1e-6)

    def code(self, k):
        return np.int16(((k * 7) % 4000) - 2000)

    def next_emg(self):
        k0 = self.k
        t0 = int(k0 * 1e6 / self.emg_hz)
        samples = [int(self.code(k)) for k in range(k0, k0 + self.per_frame)]
        fr = codec.encode_emg(self.node_id, self.seq, t0, samples)
        self.seq += 1
        self.k += self.per_frame
        ready_node_us = (k0 + self.per_frame - 1) * 1e6 / self.emg_hz
        return fr, ready_node_us

    def status(self, node_us, flags=codec.F_STREAMING):
        st = {"battery_mv": 4000, "battery_pct": 87, "flags": flags, "firmware": (0, 1, 0), "emg_hz": self.emg_hz,
              "imu_hz": 100, "highpass_hz": 20, "nv_per_lsb": self.nv, "label": "n%d" % self.node_id}
        fr = codec.encode_status(self.node_id, self.seq, int(node_us), st)
        self.seq += 1
        return fr


def write_fake_session(path, nodes, seconds=3.0, lose=None, start_us=10_000_000, end=True, sync_every_s=0.1, delay_us=4000, events=(),
                       reboot=None):
    """Write raw.log for fake nodes streaming from global time start_us.

    lose: {node_id: set(seq)} frames never logged. reboot: (at_us, down_us): every node
    reboots at global at_us (seq restarts at 0, node time runs on) and streams again
    down_us later; the samples in between are never sent. Returns the writer's path.
    """
    lose = lose or {}
    w = rawlog.RawLogWriter(path)
    mapping = [{"node_id": n.node_id, "side": "left" if n.node_id % 2 else "right", "muscle": "soleus" if n.node_id % 2 else "tibialis_anterior", "label": "node%02d" % n.node_id} for n in nodes]
    w.event(start_us - 500_000, "session_start", session_id="test", mapping=mapping,
            config={"emg_hz": 2000, "imu_hz": 100, "highpass_hz": 20, "powerline_hz": 0}, backend="fake", host_clock="sim", seconds=seconds)
    w.event(start_us, "start_sent")
    rng = np.random.default_rng(3)
    items = []
    for n in nodes:
        # node starts sampling at session start: k index from its node time then
        n.k = int(np.ceil(n.node_us(start_us) * n.emg_hz / 1e6))
        n.seq = 0
        g_end = start_us + seconds * 1e6
        next_status = n.node_us(start_us)
        rebooted = reboot is None
        while True:
            fr, ready = n.next_emg()
            g = n.global_us(ready)
            if g > g_end:
                break
            if not rebooted and g >= reboot[0]:
                rebooted = True
                n.seq = 0
                n.k = int(np.ceil(n.node_us(reboot[0] + reboot[1]) * n.emg_hz / 1e6))
                next_status = n.node_us(reboot[0] + reboot[1])
                continue
            seq = n.seq - 1
            items.append((g + delay_us, rawlog.K_DATA, n.node_id, fr, seq))
            if ready >= next_status:
                sfr = n.status(ready)
                items.append((g + delay_us, rawlog.K_DATA, n.node_id, sfr, n.seq - 1))
                next_status += 1e6
        t = start_us + 1000
        while t < g_end:
            up = rng.uniform(300, 1500)
            down = rng.uniform(300, 1500)
            t2 = n.node_us(t + up)
            t3 = t2 + 300
            t4 = n.global_us(t3) + down
            items.append((t4, rawlog.K_SYNC, n.node_id, (int(t), t2, t3, int(t4)), None))
            t += sync_every_s * 1e6
    for t, name, nid, fields in events:
        items.append((t, rawlog.K_EVENT, nid, (name, fields), None))
    items.sort(key=lambda x: x[0])
    for t, kind, nid, payload, seq in items:
        if kind == rawlog.K_EVENT:
            w.event(t, payload[0], node_id=nid, **payload[1])
        elif kind == rawlog.K_DATA:
            if seq in lose.get(nid, ()):
                continue
            w.append(kind, nid, t, payload)
        else:
            w.sync_exchange(nid, t, *payload)
    if end:
        w.event(start_us + seconds * 1e6, "session_end", status="complete", reason="requested duration reached")
    w.close()
    return path
