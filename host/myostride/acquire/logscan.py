"""Read a raw log into per-node contents: unique frames by seq, sync exchanges, events.

This is the single place that interprets raw.log; the manifest builder and
the session loader both start here, so a session rebuilt from the log alone
is the session the recorder wrote.
"""


from myowire import codec

from . import rawlog



class NodeLog:
    """One node's share of the log."""

    def __init__(self, node_id):
        self.node_id = node_id
        self.frames = {}  # seq -> bytes (first valid copy)
        self.ftype = {}  # seq -> frame type
        self.recv_us = {}  # seq -> host us of first arrival
        self.recovered = set()  # seqs that arrived after a higher seq (resent or reordered)
        self.duplicates = 0
        self.conflicts = []  # (recv_us, seq): a seq seen again with different bytes (node rebooted?)
        self.bad_frames = []  # [(recv_us, error text)]
        self.sync = []  # [(t1, t2, t3, t4)]
        self.replies = []  # decoded ack frames
        self.events = []  # event dicts with "t_us"
        self.max_seq = None
        self.arrivals = []  # host us of every DATA / REPLY notification (connection-event lattice)

    def seqs(self):
        return sorted(self.frames)

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
                out.node(node_id).events.append(ev)
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
        ftype, _nid, _enc, _count, seq, _t0 = codec.check_frame(payload)
    except codec.WireError as exc:
        node.bad_frames.append((t_us, str(exc)))
        return
    if seq in node.frames:
        if node.frames[seq] != bytes(payload):
            # Same seq, other content: the node restarted its counter (reboot).
            # The frame stays in raw.log; the session reports it instead of mixing streams.
            node.conflicts.append((t_us, seq))
        else:
            node.duplicates += 1
        return
    node.frames[seq] = bytes(payload)
    node.ftype[seq] = ftype
    node.recv_us[seq] = t_us
    if node.max_seq is not None and seq < node.max_seq:
        node.recovered.add(seq)
    if node.max_seq is None or seq > node.max_seq:
        node.max_seq = seq
