"""Lab Streaming Layer outlet: the live recording as LSL streams, one timestamp per sample.

    Recorder(out, mapping, seconds, backend=backend, sinks=[LslOutlet(backend.host_clock_us, board=...)])
    (what `myostride record --lsl` does)

Streams (why one per node, not one per session: every node samples on its own crystal, so
samples of different nodes are never simultaneous; one multi-channel LSL stream has one
timestamp per sample row and would force resampling onto a common grid. Per node, every
sample keeps its own time, a node that drops out or has a gap does not disturb the others,
and LabRecorder/XDF readers align streams by their timestamps anyway):

- "<prefix> nodeNN EMG": type EMG, 1 channel float32 microvolts, nominal rate emg_hz.
- "<prefix> nodeNN IMU": type IMU, 6 channels float32 (acc x,y,z mg; gyro x,y,z deg/s), imu_hz.
- "<prefix> markers": type Markers, 1 string channel, irregular rate: start, stop, end,
  foot_strike_left ... (shank IMU or footswitch, as detected), lead_off/lead_on nodeNN,
  gap nodeNN (samples not in the stream), disconnected/connected nodeNN.

Timestamps: each sample's time is the node-clock model's (the recorder's live clock estimate:
node sample instant -> host clock), mapped onto LSL's local_clock() by a linear fit of paired
readings of both clocks. Not arrival time: radio batching and latency do not enter. Channel
metadata (label, unit, type, side, muscle, node id, hardware) is in each stream's description.

Resent frames arrive late. LSL streams should run forward in time, so each stream is held
HOLD_S before it is pushed, in time order, so that most resends still make it in; a block
that comes later than that is not pushed (it is in raw.log and the session) and the hole is
announced by a "gap" marker. With stamping="arrival" (the benchmark's baseline) samples are
pushed the moment they arrive with LSL's own stamp (the last sample of a block at arrival, the
others back-dated at the nominal rate), which is what most LSL device apps do.
"""

from ..errors import UserError
from .sinks import RecorderSink

HOLD_S = 0.5            # how long a hole may wait for its resend before the stream moves on
LINE_SPAN_S = 10.0      # the per-stream time line is fitted over this much recent data
MAX_SLEW = 1e-3         # stamps approach a refitted line at most 1 ms per s (crystals: < 0.2 ms per s)
MAX_STEP_S = 0.05       # a larger disagreement (estimate reset after a reconnect) is followed at once
MIN_SLOPE_S = 5.0       # the node's rate is fitted once this much data is in the line (else nominal)
MAX_SKEW = 500e-6       # crystals stay within a few hundred ppm: a noisy slope is clipped to this
CLOCK_PAIR_EVERY_S = 0.25
CLOCK_FIT_SPAN_S = 120.0
IMU_CHANNELS = (("acc_x", "mg", "ACC"), ("acc_y", "mg", "ACC"), ("acc_z", "mg", "ACC"),
                ("gyro_x", "deg/s", "GYRO"), ("gyro_y", "deg/s", "GYRO"), ("gyro_z", "deg/s", "GYRO"))
SHANK_MUSCLES = ("tibialis_anterior", "gastrocnemius_medialis", "gastrocnemius_lateralis", "soleus",
                 "peroneus_longus")


def load_lsl():
    """mne_lsl.lsl (bundles liblsl), or a one-line error saying how to install it."""
    try:
        from mne_lsl import lsl
    except ImportError:
        raise UserError("--lsl needs the mne-lsl package: pip install 'myostride[lsl]'")
    return lsl


class ClockMap:
    """Host clock (us) -> LSL local_clock (s): a line through paired readings of both clocks.

    The recorder's host clock is the monotonic clock (real radio) or the simulator's global
    time (which may run faster than real time), so the map is fitted, not assumed."""

    def __init__(self, host_clock_us, local_clock):
        self.host_clock_us = host_clock_us
        self.local_clock = local_clock
        self.pairs = []
        self.a = None  # local = a + b * host_s
        self.b = 1.0

    def sample(self, force=False):
        if not force and self.pairs and self.local_clock() - self.pairs[-1][1] < CLOCK_PAIR_EVERY_S:
            return
        best = None
        for _ in range(5):  # the tightest of a few brackets: a preempted reading is not used
            before = self.local_clock()
            host_s = self.host_clock_us() / 1e6
            after = self.local_clock()
            if best is None or after - before < best[0]:
                best = (after - before, host_s, (before + after) / 2.0)
        self.pairs.append(best[1:])
        while self.pairs[-1][1] - self.pairs[0][1] > CLOCK_FIT_SPAN_S:
            self.pairs.pop(0)
        self._fit()

    def _fit(self):
        import numpy as np

        h = np.array([p[0] for p in self.pairs])
        loc = np.array([p[1] for p in self.pairs])
        if h[-1] - h[0] > 2.0:
            self.b, a0 = np.polyfit(h - h[0], loc, 1)
            self.a = a0 - self.b * h[0]
        else:
            self.a = float(np.median(loc - h))
            self.b = 1.0

    def local(self, host_s):
        if self.a is None:
            self.sample(force=True)
        return self.a + self.b * host_s


class _Stream:
    """One LSL outlet, its hold buffer of blocks by first sample index, and its time line."""

    def __init__(self, outlet, fs_hz, node_label, kind, node_id):
        self.outlet = outlet
        self.kind = kind
        self.node_id = node_id
        self.fs_hz = fs_hz
        self.label = node_label
        self.held = {}       # first sample index k -> (arrival host s, t_s, values)
        self.next_k = None   # the sample index the stream continues with
        self.line = TimeLine(fs_hz)
        self.pushed = 0
        self.dropped = 0


class TimeLine:
    """Sample index -> session seconds: a line through the live clock model's times of recent blocks.

    The recorder refits its live clock estimate twice a second, which moves block times by tens
    of microseconds to milliseconds; stamping from this line (least squares over the last
    LINE_SPAN_S of blocks), continued sample by sample and slewed towards each refit, keeps the
    model's time and rate without steps between blocks."""

    def __init__(self, fs_hz):
        self.fs_hz = fs_hz
        self.points = []  # (k of a block's middle sample, its t_s)
        self.fit = None
        self.last = None  # (k, time) of the last stamped sample

    def add(self, k0, t_s):
        import numpy as np

        mid = len(t_s) // 2
        self.points.append((k0 + mid, float(t_s[mid])))
        span_k = LINE_SPAN_S * self.fs_hz
        while self.points[-1][0] - self.points[0][0] > span_k:
            self.points.pop(0)
        k = np.array([p[0] for p in self.points], dtype=np.float64)
        t = np.array([p[1] for p in self.points])
        b = 1.0 / self.fs_hz
        if len(k) >= 3 and k[-1] - k[0] > MIN_SLOPE_S * self.fs_hz:  # enough data for the node's rate
            b = float(np.clip(np.polyfit(k - k[-1], t, 1)[0], b * (1 - MAX_SKEW), b * (1 + MAX_SKEW)))
        a = float(np.median(t - b * (k - k[-1])))
        self.fit = (k[-1], a, b)

    def times(self, k0, n):
        import numpy as np

        kr, a, b = self.fit
        return a + b * (k0 + np.arange(n, dtype=np.float64) - kr)

    def stamp(self, k0, n):
        """Times of samples k0..k0+n-1: continuing the last stamped sample at the line's period and
        slewing towards the line by at most MAX_SLEW (a refit never makes time step or go back)."""
        import numpy as np

        target = self.times(k0, n)
        if self.last is not None:
            k_last, t_last = self.last
            span = k0 + n - 1 - k_last
            steps = k0 + np.arange(n, dtype=np.float64) - k_last
            base = t_last + self.fit[2] * steps
            err = target[-1] - base[-1]
            if abs(err) < MAX_STEP_S:  # else (a reconnect reset the estimate) follow the line at once
                lim = MAX_SLEW * span / self.fs_hz
                target = base + float(np.clip(err, -lim, lim)) * steps / span
        self.last = (k0 + n - 1, float(target[-1]))
        return target


class LslOutlet(RecorderSink):
    """A recorder sink that publishes EMG, IMU and markers over LSL (see the module docstring)."""

    def __init__(self, host_clock_us, board=None, prefix="myostride", stamping="model", hold_s=HOLD_S, lsl=None):
        if stamping not in ("model", "arrival"):
            raise ValueError("stamping must be 'model' or 'arrival'")
        self.lsl = lsl or load_lsl()
        self.clock = ClockMap(host_clock_us, self.lsl.local_clock)
        self.board = board
        self.prefix = prefix
        self.stamping = stamping
        self.hold_s = hold_s
        self.start_s = None
        self.streams = {}  # (node_id, kind) -> _Stream
        self.markers = None
        self.nodes = {}
        self.gait = {}  # node_id -> (side, detector): live gait events from that node
        self.closed = False
        self.pushed_samples = 0
        self.late_samples = 0  # came after their place in the stream was pushed (they are in raw.log)

    # ------------------------------------------------------------ sink API

    def on_start(self, info):
        self.clock.sample(force=True)
        self.start_s = info["start_host_us"] / 1e6
        cfg = info.get("config") or {}
        sid = str(info.get("session_id") or "")[:8]
        simulated = bool((info.get("backend") or {}).get("simulated"))
        for node in info.get("nodes") or []:
            nid = int(node["node_id"])
            self.nodes[nid] = node
            if cfg.get("emg_hz"):
                self.streams[(nid, "emg")] = self._emg_stream(node, float(cfg["emg_hz"]), sid, simulated)
            if cfg.get("imu_hz"):
                self.streams[(nid, "imu")] = self._imu_stream(node, float(cfg["imu_hz"]), sid, simulated)
        self._choose_gait_nodes()
        minfo = self.lsl.StreamInfo("%s markers" % self.prefix, "Markers", 1, 0.0, "string",
                                    "%s-%s-markers" % (self.prefix, sid))
        minfo.set_channel_names(["event"])
        self._describe_session(minfo, sid, simulated)
        self.markers = self.lsl.StreamOutlet(minfo)

    def on_block(self, node_id, kind, t_s, values):
        """Without sample indices (an older recorder): foot edges only; data streams need on_samples."""
        if kind == "foot":
            self.on_samples(node_id, kind, None, t_s, values)

    def on_samples(self, node_id, kind, first_index, t_s, values):
        if self.closed or self.start_s is None:
            return
        self.clock.sample()
        if kind == "foot":
            self._gait(node_id, "foot", t_s, values)
            return
        st = self.streams.get((node_id, kind))
        if st is None or len(t_s) == 0 or first_index is None:
            return
        if self.stamping == "arrival":
            self._push(st, first_index, t_s, values, arrival=True)
            return
        if st.next_k is not None and first_index < st.next_k:
            st.dropped += len(t_s)  # its place in the stream was already pushed: in raw.log, not in LSL
            return
        st.line.add(first_index, t_s)
        st.held[first_index] = (self.clock.host_clock_us() / 1e6, t_s, values)
        self._flush()

    def on_event(self, t_s, name, fields):
        if self.closed or self.markers is None:
            return
        nid = fields.get("node_id")
        tag = " node%02d" % nid if nid is not None else ""
        if name == "start_sent":
            self._mark(t_s, "start")
        elif name == "stop_sent":
            self._mark(t_s, "stop")
        elif name == "session_end":
            self._flush(force=True)  # every held sample (and its gap markers) before "end"
            self._mark(t_s, "end %s" % fields.get("status", ""))
        elif name == "gone":
            self._mark(t_s, "gap%s frames %s-%s lost" % (tag, fields.get("first"), fields.get("last")))
        elif name in ("disconnected", "connected"):
            self._mark(t_s, name + tag)
        elif name == "lead_off":
            self._mark(t_s, ("lead_off" if fields.get("on") else "lead_on") + tag)

    def close(self):
        if self.closed:
            return
        if self.start_s is not None:
            self._flush(force=True)
        self.closed = True
        self.pushed_samples = sum(st.pushed for st in self.streams.values())
        self.late_samples = sum(st.dropped for st in self.streams.values())
        self.streams.clear()  # outlets are destroyed with their last reference
        self.markers = None

    # ------------------------------------------------------------ streams

    def _stream_info(self, name, stype, n, fs, source_id):
        return self.lsl.StreamInfo(name, stype, n, fs, "float32", source_id)

    def _emg_stream(self, node, fs, sid, simulated):
        nid = int(node["node_id"])
        label = node.get("label") or "node%02d" % nid
        info = self._stream_info("%s %s EMG" % (self.prefix, label), "EMG", 1, fs, "%s-%s-node%02d-emg" % (self.prefix, sid, nid))
        ch = info.desc.append_child("channels").append_child("channel")
        for key, value in (("label", _channel_label(node)), ("unit", "microvolts"), ("type", "EMG"),
                           ("side", node.get("side") or "unknown"), ("muscle", node.get("muscle") or "unmapped"),
                           ("node_id", str(nid)), ("hardware", self.board or "unknown")):
            ch.append_child_value(key, str(value))
        self._describe_session(info, sid, simulated)
        return _Stream(self.lsl.StreamOutlet(info), fs, label, "EMG", nid)

    def _imu_stream(self, node, fs, sid, simulated):
        nid = int(node["node_id"])
        label = node.get("label") or "node%02d" % nid
        info = self._stream_info("%s %s IMU" % (self.prefix, label), "IMU", 6, fs, "%s-%s-node%02d-imu" % (self.prefix, sid, nid))
        chans = info.desc.append_child("channels")
        for name, unit, ctype in IMU_CHANNELS:
            ch = chans.append_child("channel")
            for key, value in (("label", name), ("unit", unit), ("type", ctype), ("side", node.get("side") or "unknown"),
                               ("location", "shank, node%02d (%s)" % (nid, node.get("muscle") or "unmapped")),
                               ("node_id", str(nid)), ("hardware", self.board or "unknown")):
                ch.append_child_value(key, str(value))
        self._describe_session(info, sid, simulated)
        return _Stream(self.lsl.StreamOutlet(info), fs, label, "IMU", nid)

    def _describe_session(self, info, sid, simulated):
        acq = info.desc.append_child("acquisition")
        for key, value in (("manufacturer", "myostride"), ("model", self.board or "unknown"), ("session_id", sid),
                           ("simulated", "true" if simulated else "false"),
                           ("timestamps", "node clock model per sample" if self.stamping == "model" else "arrival")):
            acq.append_child_value(key, value)

    def _flush(self, force=False):
        """Push each stream's held blocks in sample order; a hole waits up to hold_s for its resend."""
        now_s = self.clock.host_clock_us() / 1e6
        for st in self.streams.values():
            while st.held:
                k0 = min(st.held)
                arrived_s, t_s, values = st.held[k0]
                if st.next_k is not None and k0 > st.next_k and not force and now_s - arrived_s < self.hold_s:
                    break  # a hole before this block: give the resend time to arrive
                del st.held[k0]
                self._push(st, k0, t_s, values)

    def _push(self, st, k0, t_s, values, arrival=False):
        import numpy as np

        n = len(t_s)
        x = np.asarray(values, dtype=np.float32).reshape(n, -1)
        if arrival:
            if n == 1:
                st.outlet.push_sample(x[0])
            else:
                st.outlet.push_chunk(x)  # LSL stamps the last sample now, back-dates the rest
            st.pushed += n
            return
        if st.next_k is not None and k0 > st.next_k:
            hole = k0 - st.next_k
            self._mark(float(st.line.times(st.next_k, 1)[0]),
                       "gap %s %s %d samples %.4f s" % (st.label, st.kind, hole, hole / st.fs_hz))
        times = st.line.stamp(k0, n)
        if n == 1:
            st.outlet.push_sample(x[0], timestamp=float(self._local(times)[0]))
        else:
            st.outlet.push_chunk(x, timestamp=self._local(times))
        if st.kind == "IMU":
            self._gait(st.node_id, "imu", times, x[:, 3:6].astype(np.float64))
        st.next_k = k0 + n
        st.pushed += n

    def _local(self, t_s):
        import numpy as np

        return self.clock.local(self.start_s + np.asarray(t_s, dtype=np.float64))

    def _mark(self, t_s, text):
        if self.markers is None:
            return
        ts = float(self._local(t_s if t_s is not None else (self.clock.host_clock_us() / 1e6 - self.start_s)))
        self.markers.push_sample([text], timestamp=ts)

    # ------------------------------------------------------------ live gait events

    def _choose_gait_nodes(self):
        """Per side, the node whose IMU/footswitch times that foot: a shank muscle's node first."""
        from .live_events import FootswitchEvents, GyroEvents

        best = {}
        for nid, node in sorted(self.nodes.items()):
            side = node.get("side")
            if side not in ("left", "right"):
                continue
            if side not in best or (node.get("muscle") in SHANK_MUSCLES and
                                    self.nodes[best[side]].get("muscle") not in SHANK_MUSCLES):
                best[side] = nid
        self.gait = {nid: (side, GyroEvents(), FootswitchEvents()) for side, nid in best.items()}
        self.gait_source = {}

    def _gait(self, node_id, kind, t_s, values):
        got = self.gait.get(node_id)
        if got is None:
            return
        side, gyro, foot = got
        if kind == "foot":
            self.gait_source[side] = "footswitch"
            found = foot.add(t_s, values)
        elif self.gait_source.get(side) != "footswitch":  # switches, when fitted, time contact directly
            found = gyro.add(t_s, values)
        else:
            found = []
        for te, key in found:
            self._mark(te, "%s_%s" % ("foot_strike" if key == "foot_strike_s" else "foot_off", side))


def _channel_label(node):
    from ..export import channel_label

    class _Ch:
        pass

    ch = _Ch()
    ch.muscle, ch.side, ch.label = node.get("muscle"), node.get("side"), node.get("label") or "node%02d" % node["node_id"]
    return channel_label(ch)
