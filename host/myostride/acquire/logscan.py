"""Read a raw log into per-node contents: unique frames by (boot epoch, seq), sync exchanges, events.

This is the single place that interprets raw.log; the manifest builder and
the session loader both start here, so a session rebuilt from the log alone
is the session the recorder wrote.

Boot epochs: a node's data seq restarts at 0 when it reboots (its node time runs
on), so a seq names a frame only within one boot. Frames are keyed (epoch, seq);
epoch 0 is the boot the session met, and a new epoch opens at the recorder's
`rebooted` event for the node, or (a log without it) at the first frame whose seq
goes back while node time goes forward past every frame of its type (EMG, IMU) in the
current epoch. Everything logged for the node after that point belongs to the
new epoch (a rebooted node cannot send frames of its earlier boot).
"""


from myowire import codec

from . import rawlog

_SAMPLE_TYPES = (codec.T_EMG, codec.T_IMU)


class NodeLog:
    """One node's share of the log."""

    def __init__(self, node_id):
        self.node_id = node_id
        self.frames = {}  # (epoch, seq) -> bytes (first valid copy)
        self.ftype = {}  # (epoch, seq) -> frame type
        self.recv_us = {}  # (epoch, seq) -> host us of first arrival
        self.recovered = set()  # keys that arrived after a higher seq of their epoch (resent or reordered)
        self.duplicates = 0
        self.conflicts = []  # (recv_us, seq): a seq seen again in its epoch with different bytes
        self.epoch = 0  # current boot epoch (see the module docstring)
        self.reboots = []  # [(recv_us, reason)] one per epoch opened after the first
        self._last_of_type = {}  # frame type -> (seq, t0_us) of the highest seq of that type in the current epoch
        self._connects = 0
        self._data_epoch_at = None  # self._connects when the current epoch was opened from the data
        self.bad_frames = []  # [(recv_us, error text)]
        self.sync = []  # [(t1, t2, t3, t4)]
        self.replies = []  # decoded ack frames
        self.events = []  # event dicts with "t_us"
        self.max_seq = None  # highest seq of the current epoch
        self.arrivals = []  # host us of every DATA / REPLY notification (connection-event lattice)

    def seqs(self):
        """Sorted frame keys (epoch, seq)."""
        return sorted(self.frames)

    def epochs(self):
        """{epoch: sorted seqs} of every epoch opened (an epoch may hold no frame)."""
        out = {e: [] for e in range(self.epoch + 1)}
        for e, s in sorted(self.frames):
            out[e].append(s)
        return out

    def new_epoch(self, t_us, reason):
        self.epoch += 1
        self.reboots.append((t_us, reason))
        self._last_of_type = {}
        self.max_seq = None

    def node_event(self, ev):
        """A recorder event about this node, in log order: tagged with the epoch it falls in."""
        if ev["event"] == "connected":
            self._connects += 1
        elif ev["event"] == "rebooted":
            # the data may have shown the reboot already (frames before this event in the log)
            if self._data_epoch_at != self._connects:
                self.new_epoch(int(ev["t_us"]), "rebooted event")
            self._data_epoch_at = None
        ev["epoch"] = self.epoch
        self.events.append(ev)

    def frames_of_type(self, ftype):
        return [(s, self.frames[s]) for s in sorted(self.frames) if self.ftype[s] == ftype]

    def connection_segments(self):
        """[(start_us, end_us)] host-time spans of single connections, from connected/disconnected events."""
        segs = []
        start = None
        for e in self.events:
            if e["event"] == "connected":
                if start is not None:
                    segs.append((start, int(e["t_us"])))
                start = int(e["t_us"])
            elif e["event"] == "disconnected" and start is not None:
                segs.append((start, int(e["t_us"])))
                start = None
        if start is not None:
            segs.append((start, 2 ** 62))
        return segs


class LogContents:
    def __init__(self):
        self.nodes = {}
        self.events = []  # session-level events (node_id 0) and all node events, in order
        self.report = None

    def node(self, node_id):
        n = self.nodes.get(node_id)
        if n is None:
            n = self.nodes[node_id] = NodeLog(node_id)
        return n

    def first_event(self, name):
        for e in self.events:
            if e["event"] == name:
                return e
        return None

    def last_event(self, name):
        for e in reversed(self.events):
            if e["event"] == name:
                return e
        return None

    def phase_timeline(self):
        """'scanning 0.0, connecting 1.2, ..., session_end 41.3' (seconds after session_start):
        where a slow recording spent its time."""
        start = self.first_event("session_start")
        if start is None:
            return "no session_start"
        t0 = int(start["t_us"])
        marks = [(e.get("phase") if e["event"] == "phase" else e["event"], int(e["t_us"])) for e in self.events
                 if e["event"] in ("phase", "start_sent", "stop_sent", "session_end")]
        return ", ".join("%s %.1f" % (name, (t - t0) / 1e6) for name, t in marks)


def scan_log(path):
    records, report = rawlog.read_log(path)
    return scan_records(records, report)


def scan_records(records, report=None):
    out = LogContents()
    out.report = report
    for kind, node_id, t_us, payload in records:
        if kind == rawlog.K_DATA:
            nl = out.node(node_id)
            nl.arrivals.append(t_us)
            _add_data(nl, t_us, payload)
        elif kind == rawlog.K_SYNC:
            out.node(node_id).sync.append(rawlog.unpack_sync(payload))
        elif kind == rawlog.K_EVENT:
            ev = rawlog.unpack_event(payload)
            ev["t_us"] = t_us
            ev.setdefault("node_id", node_id)
            out.events.append(ev)
            if node_id:
                out.node(node_id).node_event(ev)
        elif kind == rawlog.K_REPLY:
            out.node(node_id).arrivals.append(t_us)
            try:
                d = codec.decode_frame(payload)
            except codec.WireError as exc:
                out.node(node_id).bad_frames.append((t_us, "reply: %s" % exc))
                continue
            if d["type"] == "ack":
                d["recv_us"] = t_us
                out.node(node_id).replies.append(d)
    return out


def _add_data(node, t_us, payload):
    try:
        ftype, _nid, _enc, _count, seq, t0 = codec.check_frame(payload)
    except codec.WireError as exc:
        node.bad_frames.append((t_us, str(exc)))
        return
    last = node._last_of_type.get(ftype)
    if last is not None and seq < last[0] and t0 > last[1] and ftype in _SAMPLE_TYPES:
        # Within one boot, sample frames of a type are cut on fixed sample boundaries and numbered
        # in node-time order: a lower seq with a later node time is a node that rebooted (seq
        # restarted, its clock ran on). Status and footswitch frames are stamped otherwise: not used.
        node.new_epoch(t_us, "seq went back as node time went forward")
        node._data_epoch_at = node._connects
    key = (node.epoch, seq)
    if key in node.frames:
        if node.frames[key] != bytes(payload):
            # Same seq in the same boot, other content (and not later in node time): kept in
            # raw.log and reported, never mixed into the streams.
            node.conflicts.append((t_us, seq))
        else:
            node.duplicates += 1
        return
    node.frames[key] = bytes(payload)
    node.ftype[key] = ftype
    node.recv_us[key] = t_us
    if last is None or seq > last[0]:
        node._last_of_type[ftype] = (seq, t0)
    if node.max_seq is not None and seq < node.max_seq:
        node.recovered.add(key)
    if node.max_seq is None or seq > node.max_seq:
        node.max_seq = seq
