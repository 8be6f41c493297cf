"""Session API: a recorded session as per-channel arrays on one global clock.

    s = load_session("trial01")          # a directory written by `myostride record`
    for ch in s.channels: ch.t_s, ch.uv, ch.gaps, ch.lead_off ...

The raw log (raw.log) is the source of truth; arrays are decoded from it on
load, so a session whose recorder was killed loads everything up to the
last write, and session.json is rewritten (status "interrupted") the first
time such a session is opened. Times are host-clock seconds relative to the
session start (the moment the start command went to all nodes); samples are
in order, never filled: a gap is a jump in t_s and an entry in `gaps`.
"""

from pathlib import Path

import numpy as np

from myowire import codec

from .acquire import logscan, manifest as manifest_mod, rawlog, streams
from .errors import UserError


class EmgChannel:
    """One muscle's EMG. Beyond the contract: node_k, the node's sample counter of each sample
    (sample k was taken at node-clock time k / fs_hz), for checks against a node's own clock."""

    def __init__(self, label, node_id, side, muscle, fs_hz, t_s, uv, gaps, lead_off, status, node_k=None):
        self.label = label
        self.node_id = node_id
        self.side = side
        self.muscle = muscle
        self.fs_hz = fs_hz
        self.t_s = t_s
        self.uv = uv
        self.gaps = gaps
        self.lead_off = lead_off
        self.status = status
        self.node_k = node_k

    def __repr__(self):
        return "EmgChannel(%s %s %s, %d samples at %g Hz, %d gaps)" % (
            self.label, self.side, self.muscle, len(self.t_s), self.fs_hz, len(self.gaps))


class ImuStream:
    def __init__(self, t_s, acc_mg, gyro_dps):
        self.t_s = t_s
        self.acc_mg = acc_mg
        self.gyro_dps = gyro_dps


class Session:
    def __init__(self, path, meta, channels, imu, footswitch):
        self.path = Path(path)
        self.meta = meta
        self.channels = channels
        self.imu = imu
        self.footswitch = footswitch

    def channel(self, label_or_muscle, side=None):
        for ch in self.channels:
            if ch.label == label_or_muscle or (ch.muscle == label_or_muscle and (side is None or ch.side == side)):
                return ch
        raise KeyError(label_or_muscle)

    def __repr__(self):
        return "Session(%s, %s, %d channels, %.1f s)" % (self.path, self.meta.get("status"), len(self.channels), self.meta.get("duration_s") or 0)


def session_paths(path):
    p = Path(path)
    if p.is_file() and p.name in (rawlog.LOG_NAME, manifest_mod.MANIFEST_NAME):
        p = p.parent
    return p, p / rawlog.LOG_NAME, p / manifest_mod.MANIFEST_NAME


def load_session(path):
    """Load a session directory (or its raw.log / session.json) -> Session."""
    d, log_path, man_path = session_paths(path)
    if not d.exists():
        raise UserError("session %s does not exist; give the --out directory of `myostride record`" % d)
    if not log_path.exists():
        raise UserError("%s has no raw.log, so it is not a myostride session directory" % d)
    live = rawlog.is_being_written(log_path)
    contents = logscan.scan_log(log_path)
    try:
        man, built = manifest_mod.build_manifest(contents, live_recorder=live)
    except ValueError as exc:
        raise UserError("%s: %s" % (log_path, exc))
    old = None
    if man_path.exists():
        try:
            old = manifest_mod.read_manifest(man_path)
        except ValueError:
            old = None
    if not live and (old is None or old.get("status") == "recording"):
        # The recorder died (or never wrote session.json): record the recovery once.
        man["recovery"] = {
            "recovered_utc": manifest_mod.utc_now(),
            "from": "raw.log",
            "tail_ignored_bytes": man["raw_log"].get("tail_ignored_bytes", 0),
            "tail_reason": man["raw_log"].get("tail_reason", ""),
        }
        try:
            manifest_mod.write_manifest(man_path, man)
        except OSError:
            pass  # read-only media: the loaded meta still says interrupted
    elif old is not None and old.get("recovery"):
        man["recovery"] = old["recovery"]
    return assemble(d, man, contents, built)


def assemble(path, man, contents, built):
    start_us = man["start_host_us"]
    channels = []
    imu = {}
    foot = {}
    for entry in man["nodes"]:
        nid = entry["node_id"]
        nl = contents.node(nid)
        b = built[nid]
        clock = b["clock"]
        emg = b["emg"]
        statuses = b["statuses"]
        if clock is None:
            continue  # no frames at all from this node: nothing to place
        nv = entry.get("nv_per_lsb") or 0
        if not nv:
            raise UserError("node %d sent no status frame with nv_per_lsb: cannot scale its EMG to microvolts" % nid)
        t_s = (clock.host_us(emg.node_us()) - start_us) / 1e6
        uv = emg.codes.astype(np.float64) * (nv / 1000.0)
        gaps = [(g["start_s"], g["end_s"]) for g in entry["gaps"]]
        lead = [((clock.host_us(a) - start_us) / 1e6, (clock.host_us(b2) - start_us) / 1e6) for a, b2 in streams.lead_off_spans(statuses)]
        lead = [(float(a), float(b2)) for a, b2 in lead]
        status = dict(statuses[-1][1]) if statuses else {}
        if status:
            status["flag_names"] = [n for bit, n in codec.FLAG_NAMES if status["flags"] & bit]
        channels.append(EmgChannel(entry["label"], nid, entry["side"], entry["muscle"], float(emg.fs_hz), t_s, uv, gaps, lead, status, emg.k))
        imu_hz = int(man["config"].get("imu_hz") or (status or {}).get("imu_hz") or 0)
        imu_frames = nl.frames_of_type(codec.T_IMU)
        if imu_frames and imu_hz:
            t_node, raw = streams.decode_imu(imu_frames, imu_hz)
            imu[nid] = ImuStream((clock.host_us(t_node) - start_us) / 1e6, raw[:, :3].astype(np.float64), raw[:, 3:].astype(np.float64) / 10.0)
        foot_frames = nl.frames_of_type(codec.T_FOOT)
        if foot_frames:
            ev = streams.decode_foot(foot_frames)
            foot[nid] = [(float((clock.host_us(t) - start_us) / 1e6), inp, lvl) for t, inp, lvl in ev]
    return Session(path, man, channels, imu, foot)


def rebuild_session(path):
    """Rewrite session.json from raw.log alone (e.g. after session.json was lost); returns the manifest."""
    d, log_path, man_path = session_paths(path)
    if not log_path.exists():
        raise UserError("%s has no raw.log to rebuild from" % d)
    if rawlog.is_being_written(log_path):
        raise UserError("%s is still being recorded; rebuild it after the recorder stops" % d)
    contents = logscan.scan_log(log_path)
    try:
        man, _built = manifest_mod.build_manifest(contents)
    except ValueError as exc:
        raise UserError("%s: %s" % (log_path, exc))
    man["rebuilt_utc"] = manifest_mod.utc_now()
    if man["status"] == "interrupted":
        man["recovery"] = {
            "recovered_utc": man["rebuilt_utc"],
            "from": "raw.log",
            "tail_ignored_bytes": man["raw_log"].get("tail_ignored_bytes", 0),
            "tail_reason": man["raw_log"].get("tail_reason", ""),
        }
    manifest_mod.write_manifest(man_path, man)
    return man
