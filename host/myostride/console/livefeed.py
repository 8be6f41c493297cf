"""Live view of a trial, read from its raw.log while the recorder writes it.

The recorder appends every frame to raw.log the moment it arrives (one os.write per
record), so following that file shows the page exactly what is recorded, from any
recorder (console or CLI), with no hook into the recorder. Per poll:
  * EMG frames -> 10 ms display buckets (min, max, RMS) on the session's host clock
    (node time mapped by the recorder's own OnlineClock fit of the logged sync
    exchanges), plus a 50 ms RMS envelope; decimated for display, never stored;
  * STATUS frames -> battery, lead-off; codes at the rails -> clipping;
  * connect events -> RSSI; IMU frames of one shank node per side -> gait-event ticks
    (analysis.events.events_from_gyro, the analysis's own detector, on a sliding window).
Each update carries the newest arrival time (wall clock, ms) so the page can report
arrival-to-pixel latency.
"""

import json
import os
import struct
import time
import zlib

import numpy as np

from myowire import codec

from ..acquire import rawlog
from ..acquire.sync import OnlineClock

BUCKET_S = 0.01  # 100 display points per second per trace
ENVELOPE_BUCKETS = 5  # 50 ms RMS envelope
IMU_WINDOW_S = 6.0
TICK_SETTLE_S = 0.8  # events this close to the window's end may still move: wait
TICK_EVERY_S = 0.5
MIN_TICK_GAP_S = 0.3  # a stride takes far longer: closer events of one kind are the same event
# The display's node->host clock: refit from the logged sync exchanges every few seconds
# (a fit costs milliseconds; 100 ppm of drift moves a trace 0.5 ms in 5 s, far below a pixel).
REFIT_EVERY_US = 5_000_000
CLOCK_WINDOW_S = 10.0
SHANK_MUSCLES = ("tibialis_anterior", "gastrocnemius_medialis", "gastrocnemius_lateralis", "soleus", "peroneus_longus")
_LEN = struct.Struct("<I")
_HEAD = struct.Struct("<BBQ")
_SYNC = struct.Struct("<qqqq")


class _Node:
    def __init__(self, node_id, side, muscle, label):
        self.node_id, self.side, self.muscle, self.label = node_id, side, muscle, label
        self.clock = OnlineClock(window_s=CLOCK_WINDOW_S)
        self.fit = None
        self.fit_at = -1e18
        self.nv_per_lsb = None
        self.battery_pct = None
        self.lead_off = False
        self.rssi_dbm = None
        self.connected = False
        self.open = {}  # bucket -> [min, max, sum_sq, n] (codes)
        self.last_k = None
        self.clip = []  # (arrival_us, clipped, n)
        self.env = []  # recent (sum_sq, n) of closed buckets
        self.imu_t = []  # host seconds arrays
        self.imu_g = []
        self.ticks_done_s = -1e9
        self.last_tick_s = {"FS": -1e9, "FO": -1e9}
        self.last_arrival_us = None


class LiveFeed:
    """Follows one raw.log; `poll()` returns what the page needs since the last poll."""

    def __init__(self, log_path, wall_offset_us=None, emg_hz=2000):
        self.path = str(log_path)
        self.pos = len(rawlog.MAGIC)
        self.nodes = {}
        self.start_us = None
        self.emg_hz = emg_hz
        self.imu_hz = 100
        self.ended = False
        self.wall_offset_us = wall_offset_us  # wall_us - host_clock_us; None: unknown
        self.ticks = []
        self.ticks_at = 0.0

    # ------------------------------------------------------------ reading

    def _read_new(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return []
        records = []
        off = 0
        while off + 4 <= len(data):
            (n,) = _LEN.unpack_from(data, off)
            if n > rawlog.MAX_BODY or n < _HEAD.size:
                off += 1  # damaged: the session loader reports it; the display skips ahead
                continue
            end = off + 4 + n + 4
            if end > len(data):
                break  # the rest is still being written
            body = data[off + 4 : off + 4 + n]
            if _LEN.unpack_from(data, off + 4 + n)[0] == zlib.crc32(body):
                records.append(body)
            off = end
        self.pos += off
        return records

    def _node(self, nid):
        return self.nodes.get(nid)

    def poll(self):
        """{"t_s", "nodes": {id: {buckets, badges}}, "ticks": [...], "arrival_wall_ms"} of what is new."""
        out = {}
        newest_arrival = None
        for body in self._read_new():
            kind, nid, recv_us = _HEAD.unpack_from(body, 0)
            payload = body[_HEAD.size :]
            if kind == rawlog.K_EVENT:
                self._event(nid, recv_us, payload)
                continue
            st = self._node(nid)
            if st is None:
                continue
            if kind == rawlog.K_SYNC:
                st.clock.add(*_SYNC.unpack_from(payload, 0))
            elif kind == rawlog.K_DATA:
                if self._data(st, recv_us, payload):
                    newest_arrival = recv_us if newest_arrival is None else max(newest_arrival, recv_us)
        for st in self.nodes.values():
            closed = self._close_buckets(st)
            if closed:
                out[st.node_id] = closed
        now = time.monotonic()
        if now - self.ticks_at >= TICK_EVERY_S:
            self.ticks_at = now
            self._gait_ticks()
        res = {"nodes": out, "badges": self.badges(), "ticks": self.ticks, "ended": self.ended}
        self.ticks = []
        if newest_arrival is not None and self.wall_offset_us is not None:
            res["arrival_wall_ms"] = (newest_arrival + self.wall_offset_us) / 1000.0
        if self.start_us is not None:
            res["server_wall_ms"] = time.time() * 1000.0
        return res

    def _event(self, nid, recv_us, payload):
        try:
            ev = json.loads(payload)
        except ValueError:
            return
        name = ev.get("event")
        if name == "session_start":
            self.start_us = recv_us
            self.emg_hz = int((ev.get("config") or {}).get("emg_hz") or self.emg_hz)
            self.imu_hz = int((ev.get("config") or {}).get("imu_hz") or 0)
            for m in ev.get("mapping") or []:
                self.nodes[m["node_id"]] = _Node(m["node_id"], m.get("side"), m.get("muscle"), m.get("label"))
        elif name == "session_end":
            self.ended = True
        elif name in ("connected", "disconnected"):
            st = self._node(ev.get("node_id", nid))
            if st is not None:
                st.connected = name == "connected"
                if name == "connected":
                    st.rssi_dbm = ev.get("rssi_dbm")
                    st.battery_pct = ev.get("battery_pct", st.battery_pct)

    def _host_s(self, st, node_us):
        """Session seconds of node times, by the recorder's OnlineClock fit (refit once a second)."""
        now = node_us[-1] if len(node_us) else 0
        if st.fit is None or now - st.fit_at > REFIT_EVERY_US:
            st.fit = st.clock.refit() or st.fit
            st.fit_at = now
        if st.fit is None or self.start_us is None:
            return None
        return (node_us + st.fit.offset_at(float(now)) - self.start_us) / 1e6

    def _data(self, st, recv_us, frame):
        if len(frame) < codec.OVERHEAD:
            return False
        ftype, _nid, enc, count, _seq, t0 = codec.header_fields(frame)
        if ftype == codec.T_EMG:
            ch = (enc >> 4) + 1
            if len(frame) < codec.OVERHEAD + 2 * count * ch:
                return False
            codes = np.frombuffer(frame, dtype="<i2", count=count * ch, offset=codec.HEADER_SIZE)[::ch]
            k0 = int(round(t0 * self.emg_hz / 1e6))
            if st.last_k is not None and k0 < st.last_k:
                return False  # a resent frame: in raw.log and the session; the display has moved on
            st.last_k = k0 + count
            node_us = (k0 + np.arange(count)) * (1e6 / self.emg_hz)
            t_s = self._host_s(st, node_us)
            if t_s is None:
                return False
            b = np.floor(t_s / BUCKET_S).astype(np.int64)
            c = codes.astype(np.float64)
            for bi in np.unique(b):
                sel = c[b == bi]
                cur = st.open.get(int(bi))
                lo, hi, ss = float(sel.min()), float(sel.max()), float(np.dot(sel, sel))
                if cur is None:
                    st.open[int(bi)] = [lo, hi, ss, len(sel)]
                else:
                    cur[0] = min(cur[0], lo)
                    cur[1] = max(cur[1], hi)
                    cur[2] += ss
                    cur[3] += len(sel)
            st.clip.append((recv_us, int(np.count_nonzero((codes >= 32767) | (codes <= -32768))), count))
            st.last_arrival_us = recv_us
            return True
        if ftype == codec.T_STATUS:
            try:
                s = codec.decode_frame(bytes(frame))
            except codec.WireError:
                return False
            st.nv_per_lsb = s.get("nv_per_lsb") or st.nv_per_lsb
            st.battery_pct = s.get("battery_pct", st.battery_pct)
            st.lead_off = bool(s.get("flags", 0) & codec.F_LEAD_OFF)
        elif ftype == codec.T_IMU and self.imu_hz and st.muscle in SHANK_MUSCLES:
            n = count * 6
            if len(frame) < codec.OVERHEAD + 2 * n:
                return False
            raw = np.frombuffer(frame, dtype="<i2", count=n, offset=codec.HEADER_SIZE).reshape(-1, 6)
            j0 = int(round(t0 * self.imu_hz / 1e6))
            t_s = self._host_s(st, (j0 + np.arange(count)) * (1e6 / self.imu_hz))
            if t_s is not None:
                st.imu_t.append(t_s)
                st.imu_g.append(raw[:, 3:].astype(np.float64) / 10.0)
        return False

    def _close_buckets(self, st):
        """Buckets older than the newest one are complete: [[t_s, min_uv, max_uv, env_uv], ...]."""
        if len(st.open) < 2:
            return None
        newest = max(st.open)
        scale = (st.nv_per_lsb or 0) / 1000.0 or None
        rows = []
        for bi in sorted(k for k in st.open if k < newest):
            lo, hi, ss, n = st.open.pop(bi)
            st.env.append((ss, n))
            if len(st.env) > ENVELOPE_BUCKETS:
                st.env.pop(0)
            env = float(np.sqrt(sum(e[0] for e in st.env) / max(1, sum(e[1] for e in st.env))))
            if scale:
                rows.append([round(bi * BUCKET_S, 3), round(lo * scale, 1), round(hi * scale, 1), round(env * scale, 1)])
        return rows or None

    def _gait_ticks(self):
        """Foot strike / foot off from one shank IMU per side (the analysis's detector)."""
        from ..analysis.events import events_from_gyro

        per_side = {}
        for st in self.nodes.values():
            if st.imu_t and st.side not in per_side:
                per_side[st.side] = st
        for side, st in per_side.items():
            t = np.concatenate(st.imu_t)
            g = np.concatenate(st.imu_g)
            keep = t >= t[-1] - IMU_WINDOW_S
            st.imu_t, st.imu_g = [t[keep]], [g[keep]]
            t, g = t[keep], g[keep]
            if t[-1] - t[0] < 3.0 or t[-1] - st.ticks_done_s < 0.5:
                continue
            settled = t[-1] - TICK_SETTLE_S
            ev = events_from_gyro(t, g)
            for kind, key in (("FS", "foot_strike_s"), ("FO", "foot_off_s")):
                for e in ev[key]:
                    # an event found again in the next window moves by a sample or two: one tick per event
                    if st.ticks_done_s < e <= settled and e > st.last_tick_s[kind] + MIN_TICK_GAP_S:
                        self.ticks.append({"side": side, "kind": kind, "t_s": round(e, 3)})
                        st.last_tick_s[kind] = e
            st.ticks_done_s = settled

    def badges(self):
        out = {}
        for st in self.nodes.values():
            recent = st.clip[-40:]
            st.clip = recent
            n = sum(r[2] for r in recent)
            out[st.node_id] = {"battery_pct": st.battery_pct, "lead_off": st.lead_off, "rssi_dbm": st.rssi_dbm,
                               "clipping_pct": round(100.0 * sum(r[1] for r in recent) / n, 2) if n else 0.0,
                               "connected": st.connected}
        return out


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
