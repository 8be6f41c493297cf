"""Live consumers of a recording (LSL outlet, console): decoded blocks with per-sample times.

    class MySink(RecorderSink):
        def on_block(self, node_id, kind, t_s, values): ...
    Recorder(out, mapping, 30, backend=backend, sinks=[MySink()])

raw.log stays the record; sinks get a live view of it on the event loop, in
arrival order. The recorder calls, for each sink:
  on_start(info)       once, after every node was configured and warm-synced, before START:
                       {"session_id", "start_host_us", "backend": Backend.describe(),
                        "config": {...}, "nodes": [{"node_id", "label", "side", "muscle"}]}
  on_block(node_id, kind, t_s, values)
                       kind "emg": values float64 (n,) microvolts (channel 0)
                       kind "imu": values float64 (n, 6): acc x,y,z mg, gyro x,y,z deg/s
                       kind "foot": values int64 (n, 2): input, level (switch edges)
                       t_s: float64 (n,) session seconds (host clock minus the session
                       start) from the node's live clock estimate; the session loader's
                       full fit may place samples a few tens of us differently. A frame
                       recovered by a resend arrives late: its t_s lie before blocks
                       already delivered (check t_s[0] if you need order).
  on_event(t_s, name, fields)
                       every recorder event also written to raw.log ("connected",
                       "disconnected", "started", "stopped", "gone", "session_end", ...).
  close()              once, after session_end (also when the recording failed).
Calls must return promptly (no blocking I/O: hand work to your own thread).
A sink that raises is dropped for the rest of the recording, with a
"sink_failed" event in raw.log; it never stops or alters the recording.
"""

import struct

import numpy as np

from myowire import codec

_HDR = struct.Struct("<BBBBIQ")

# Frames that cannot be timed yet (no clock fit, no nv_per_lsb) wait at most this many per node.
MAX_WAITING_FRAMES = 2000


class RecorderSink:
    """Base class with no-op methods: override what you need."""

    def on_start(self, info):
        pass

    def on_block(self, node_id, kind, t_s, values):
        pass

    def on_event(self, t_s, name, fields):
        pass

    def close(self):
        pass


def frame_samples(frame, emg_hz, imu_hz):
    """(kind, node_us float64 (n,), raw values) of a checked data frame, or None (status, unknown).

    Sample k of a node happens at node time k * 1e6 / rate; a frame's t0_us is
    that time floored for its first sample (docs/ARCHITECTURE.md)."""
    vt, _nid, enc, count, _seq, t0 = _HDR.unpack_from(frame, 0)
    ftype = vt & 0x0F
    if ftype == codec.T_EMG and emg_hz:
        ch = (enc >> 4) + 1
        codes = np.frombuffer(frame, dtype="<i2", count=count * ch, offset=codec.HEADER_SIZE)[::ch]
        k0 = int(round(t0 * emg_hz / 1e6))
        return "emg", (k0 + np.arange(count, dtype=np.float64)) * (1e6 / emg_hz), codes
    if ftype == codec.T_IMU and imu_hz:
        raw = np.frombuffer(frame, dtype="<i2", count=count * 6, offset=codec.HEADER_SIZE).reshape(count, 6)
        j0 = int(round(t0 * imu_hz / 1e6))
        vals = raw.astype(np.float64)
        vals[:, 3:] /= 10.0  # 0.1 deg/s on the wire
        return "imu", (j0 + np.arange(count, dtype=np.float64)) * (1e6 / imu_hz), vals
    if ftype == codec.T_FOOT:
        d = codec.decode_frame(bytes(frame))
        ev = d["events"]
        t = np.array([t0 + off for off, _i, _l in ev], dtype=np.float64)
        return "foot", t, np.array([[i, lv] for _o, i, lv in ev], dtype=np.int64).reshape(-1, 2)
    return None


class SinkHub:
    """Delivers the recording to its sinks; isolates the recording from their failures."""

    def __init__(self, sinks, log_failure):
        self.sinks = list(sinks or ())
        self.log_failure = log_failure  # (sink repr, error text): written to raw.log by the recorder
        self.start_us = None
        self.waiting = {}  # node_id -> [(frame, ...)] not yet timeable
        self.closed = False

    def __bool__(self):
        return bool(self.sinks)

    def _call(self, method, *args):
        for sink in list(self.sinks):
            try:
                getattr(sink, method)(*args)
            except Exception as exc:  # a consumer's bug must not touch the recording
                self.sinks.remove(sink)
                self.log_failure(repr(sink), "%s in %s: %r" % (type(exc).__name__, method, exc))

    def start(self, info):
        self.start_us = info["start_host_us"]
        self._call("on_start", info)

    def event(self, t_us, name, fields):
        if self.sinks and not self.closed:
            t_s = (t_us - self.start_us) / 1e6 if self.start_us is not None else None
            self._call("on_event", t_s, name, dict(fields))

    def frame(self, node_id, frame, fit, nv_per_lsb, emg_hz, imu_hz):
        """A checked data frame from node_id. fit: its live ClockFit (or None yet)."""
        if not self.sinks or self.start_us is None or self.closed:
            return
        q = self.waiting.get(node_id)
        if fit is None or not nv_per_lsb:
            q = self.waiting.setdefault(node_id, [])
            q.append(frame)
            if len(q) > MAX_WAITING_FRAMES:
                del q[0]
            return
        if q:
            del self.waiting[node_id]
            for f in q:
                self._deliver(node_id, f, fit, nv_per_lsb, emg_hz, imu_hz)
        self._deliver(node_id, frame, fit, nv_per_lsb, emg_hz, imu_hz)

    def _deliver(self, node_id, frame, fit, nv_per_lsb, emg_hz, imu_hz):
        got = frame_samples(frame, emg_hz, imu_hz)
        if got is None:
            return
        kind, node_us, raw = got
        if len(node_us) == 0:
            return
        t_s = (fit.host_us(node_us) - self.start_us) / 1e6
        values = raw.astype(np.float64) * (nv_per_lsb / 1000.0) if kind == "emg" else raw
        self._call("on_block", node_id, kind, t_s, values)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self._call("close")
