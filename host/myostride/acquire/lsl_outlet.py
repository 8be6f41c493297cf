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

HOLD_S = 0.5            # stream delay that lets resends fill holes before samples are pushed
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
    """One LSL outlet and its hold buffer of (t_s array, values) blocks."""

    def __init__(self, outlet, fs_hz, node_label, kind):
        self.outlet = outlet
        self.kind = kind
        self.fs_hz = fs_hz
        self.label = node_label
        self.held = []
        self.last_t = None
        self.pushed = 0
        self.dropped = 0


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
        self.newest_t = None
        self.lead_off = {}
        self.closed = False

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
                                    "myostride-%s-markers" % sid)
        minfo.set_channel_names(["event"])
        self._describe_session(minfo, sid, simulated)
        self.markers = self.lsl.StreamOutlet(minfo)

    def on_block(self, node_id, kind, t_s, values):
        if self.closed or self.start_s is None:
            return
        self.clock.sample()
        if kind == "foot":
            self._gait(node_id, "foot", t_s, values)
            return
        st = self.streams.get((node_id, kind))
        if st is None or len(t_s) == 0:
            return
        if kind == "imu":
            self._gait(node_id, "imu", t_s, values[:, 3:6])
        if self.stamping == "arrival":
            self._push(st, t_s, values, arrival=True)
            return
        st.held.append((t_s, values))
        t_end = float(t_s[-1])
        self.newest_t = t_end if self.newest_t is None else max(self.newest_t, t_end)
        self._flush(self.newest_t - self.hold_s)

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
            self._flush(float("inf"))  # every held sample (and its gap markers) before "end"
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
            self._flush(float("inf"))
        self.closed = True
        self.streams.clear()  # outlets are destroyed with their last reference
        self.markers = None

    # ------------------------------------------------------------ streams

    def _stream_info(self, name, stype, n, fs, source_id):
        return self.lsl.StreamInfo(name, stype, n, fs, "float32", source_id)

    def _emg_stream(self, node, fs, sid, simulated):
        nid = int(node["node_id"])
        label = node.get("label") or "node%02d" % nid
        info = self._stream_info("%s %s EMG" % (self.prefix, label), "EMG", 1, fs, "myostride-%s-node%02d-emg" % (sid, nid))
        ch = info.desc.append_child("channels").append_child("channel")
        for key, value in (("label", _channel_label(node)), ("unit", "microvolts"), ("type", "EMG"),
                           ("side", node.get("side") or "unknown"), ("muscle", node.get("muscle") or "unmapped"),
                           ("node_id", str(nid)), ("hardware", self.board or "unknown")):
            ch.append_child_value(key, str(value))
        self._describe_session(info, sid, simulated)
        return _Stream(self.lsl.StreamOutlet(info), fs, label, "EMG")

    def _imu_stream(self, node, fs, sid, simulated):
        nid = int(node["node_id"])
        label = node.get("label") or "node%02d" % nid
        info = self._stream_info("%s %s IMU" % (self.prefix, label), "IMU", 6, fs, "myostride-%s-node%02d-imu" % (sid, nid))
        chans = info.desc.append_child("channels")
        for name, unit, ctype in IMU_CHANNELS:
            ch = chans.append_child("channel")
            for key, value in (("label", name), ("unit", unit), ("type", ctype), ("side", node.get("side") or "unknown"),
                               ("location", "shank, node%02d (%s)" % (nid, node.get("muscle") or "unmapped")),
                               ("node_id", str(nid)), ("hardware", self.board or "unknown")):
                ch.append_child_value(key, str(value))
        self._describe_session(info, sid, simulated)
        return _Stream(self.lsl.StreamOutlet(info), fs, label, "IMU")

    def _describe_session(self, info, sid, simulated):
        acq = info.desc.append_child("acquisition")
        for key, value in (("manufacturer", "myostride"), ("model", self.board or "unknown"), ("session_id", sid),
                           ("simulated", "true" if simulated else "false"),
                           ("timestamps", "node clock model per sample" if self.stamping == "model" else "arrival")):
            acq.append_child_value(key, value)

    def _flush(self, cutoff_s):
        for st in self.streams.values():
            if not st.held:
                continue
            st.held.sort(key=lambda b: float(b[0][0]))
            keep = []
            for t_s, values in st.held:
                if float(t_s[-1]) <= cutoff_s:
                    self._push(st, t_s, values)
                else:
                    keep.append((t_s, values))
            st.held = keep

    def _push(self, st, t_s, values, arrival=False):
        import numpy as np

        period = 1.0 / st.fs_hz
        if not arrival and st.last_t is not None:
            if float(t_s[0]) < st.last_t + 0.5 * period:
                st.dropped += len(t_s)  # came after its place was streamed: in raw.log, not in LSL
                return
            if float(t_s[0]) > st.last_t + 1.5 * period:
                self._mark(st.last_t + period, "gap %s %s %.4f s" % (st.label, st.kind, float(t_s[0]) - st.last_t - period))
        x = np.asarray(values, dtype=np.float32).reshape(len(t_s), -1)
        if arrival:
            st.outlet.push_chunk(x)  # LSL stamps the last sample now, back-dates the rest
        else:
            st.outlet.push_chunk(x, timestamp=self._local(t_s))
        st.last_t = float(t_s[-1])
        st.pushed += len(t_s)

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
