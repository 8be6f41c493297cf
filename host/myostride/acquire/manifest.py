"""session.json: the session manifest, derived from the raw log.

build_manifest() computes it from the log contents alone (channel map and
config come from the log's session_start event), so the recorder, crash
recovery and `myostride record --rebuild` all produce the same manifest.
Written atomically (temp file, fsync, rename): a reader never sees half a file.
"""

import datetime
import json
import os

from myowire import codec

from .. import __version__
from . import streams, sync
from .gaps import ranges_of

SCHEMA = "myostride.session/1"
MANIFEST_NAME = "session.json"

# Status values: recording (a recorder is writing, or one died: see interrupted),
# complete (ran for the requested time), stopped (user stopped early: Ctrl-C),
# failed (the recorder gave up, reason in end_reason), interrupted (killed; recovered from the log).
STATUSES = ("recording", "complete", "stopped", "failed", "interrupted")


def write_manifest(path, manifest):
    path = str(path)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_manifest(path):
    with open(path) as f:
        return json.load(f)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def build_manifest(contents, live_recorder=False):
    """Manifest dict from LogContents; also returns per-node stream data for the loader.

    Returns (manifest, built) where built[node_id] = dict(emg=EmgStream, clock=ClockFit,
    statuses=[...]) so a loader need not decode twice.
    """
    start = contents.first_event("session_start")
    if start is None:
        raise ValueError("the raw log has no session_start event: it was not written by `myostride record`")
    end = contents.last_event("session_end")
    started = contents.first_event("start_sent")
    start_us = int(started["t_us"]) if started else int(start["t_us"])
    cfg = dict(start.get("config", {}))
    mapping = {int(m["node_id"]): m for m in start.get("mapping", [])}
    nodes = []
    built = {}
    last_t = start_us
    # The connection events' drift against the host clock is the adapter's: one figure for all nodes.
    drift = sync.common_lattice_drift((contents.node(nid).arrivals, contents.node(nid).connection_segments())
                                      for nid in sorted(contents.nodes))
    for e in contents.events:
        last_t = max(last_t, int(e["t_us"]))
    for nid in sorted(set(mapping) | set(contents.nodes)):
        nl = contents.node(nid)
        m = mapping.get(nid, {})
        entry, b = _node_entry(nid, nl, m, cfg, start_us, drift)
        entry["board"] = start.get("board")  # hardware/boards/<board>.json: the front end the node has
        if nl.recv_us:
            last_t = max(last_t, max(nl.recv_us.values()))
        nodes.append(entry)
        built[nid] = b
    if end is not None:
        status = end.get("status", "complete")
        interrupted = status == "interrupted"
    elif live_recorder:
        status = "recording"
        interrupted = False
    else:
        status = "interrupted"
        interrupted = True
    rep = contents.report.to_json() if contents.report is not None else None
    man = {
        "schema": SCHEMA,
        "session_id": start.get("session_id"),
        "created_utc": start.get("created_utc"),
        "myostride_version": start.get("myostride_version", __version__),
        "manifest_written_by": __version__,
        "backend": start.get("backend"),
        "radio": start.get("radio"),
        "host_clock": start.get("host_clock"),
        "start_host_us": start_us,
        "end_host_us": int(end["t_us"]) if end else last_t,
        "duration_s": round(((int(end["t_us"]) if end else last_t) - start_us) / 1e6, 6),
        "seconds_requested": start.get("seconds"),
        "status": status,
        "interrupted": interrupted,
        "end_reason": end.get("reason") if end else ("recorder still running" if live_recorder else "recorder process ended without closing the session"),
        "config": cfg,
        "nodes": nodes,
        "sync_warnings": _sync_warnings(nodes),
        "raw_log": dict({"file": "raw.log"}, **(rep or {})),
    }
    return man, built


def _node_entry(nid, nl, m, cfg, start_us, lattice_drift_us_per_s=None):
    statuses = streams.decode_statuses(nl.frames_of_type(codec.T_STATUS))
    last_status = statuses[-1][1] if statuses else None
    emg_hz = int(cfg.get("emg_hz") or (last_status or {}).get("emg_hz") or 2000)
    emg = streams.decode_emg(nl.frames_of_type(codec.T_EMG), emg_hz, nl.recovered)
    clock = streams.node_clock(nl, emg, lattice_drift_us_per_s)
    ev_names = [e["event"] for e in nl.events]
    connected = [e for e in nl.events if e["event"] == "connected"]
    boots = _boot_frames(nl)
    seqs = nl.seqs()
    gap_entries = []
    for i, ka, kb in emg.holes():
        t_a = _session_s(clock, ka * 1e6 / emg_hz, start_us)
        t_b = _session_s(clock, kb * 1e6 / emg_hz, start_us)
        gap_entries.append({"start_s": t_a, "end_s": t_b, "samples": kb - ka, "k_first": ka, "k_end": kb})
    samples_received = int(len(emg.k))
    samples_expected = int(emg.k[-1] - emg.k[0] + 1) if len(emg.k) else 0
    fw = None
    if connected and connected[-1].get("firmware"):
        fw = connected[-1]["firmware"]
    elif last_status:
        fw = last_status["firmware"]
    entry = {
        "node_id": nid,
        "label": m.get("label", "node%02d" % nid),
        "side": m.get("side"),
        "muscle": m.get("muscle"),
        "name": connected[-1].get("name") if connected else None,
        "address": connected[-1].get("address") if connected else None,
        "firmware": fw,
        "emg_hz": emg_hz,
        "nv_per_lsb": (last_status or {}).get("nv_per_lsb") or _read_scale(nl),
        "battery_pct_last": (last_status or {}).get("battery_pct"),
        "battery_mv_last": (last_status or {}).get("battery_mv"),
        "clock": clock.to_json() if clock is not None else None,
        "frames": {
            # seq numbers of the first and the last boot (a node reboot restarts them: see "boots")
            "first_seq": boots[0]["first_seq"],
            "end_seq": boots[-1]["end_seq"],
            "expected": sum(b["expected"] for b in boots),
            "received": len(seqs),
            "recovered": len(nl.recovered),
            "missing": sum(b["missing"] for b in boots),
            "missing_ranges": [r for b in boots for r in b["missing_ranges"]],
            # one entry per boot epoch of the node (docs/recording.md): its own seq space
            "boots": boots,
            "duplicates": nl.duplicates,
            "bad": len(nl.bad_frames),
            # frames reusing a seq of their boot with other content (not a reboot: see logscan):
            # kept in raw.log, left out of the arrays; see docs/recording.md
            "conflicting": len(nl.conflicts),
        },
        "samples": {
            "expected": samples_expected,
            "received": samples_received,
            "recovered": int(emg.recovered_samples),
            "missing": samples_expected - samples_received,
        },
        "gaps": gap_entries,
        "connects": ev_names.count("connected"),
        "disconnects": ev_names.count("disconnected"),
        "resend_requests": ev_names.count("resend"),
    }
    return entry, {"emg": emg, "clock": clock, "statuses": statuses}


def _boot_frames(nl):
    """Frame accounting per boot epoch: each epoch numbers its frames from its own seq 0."""
    out = []
    for epoch, seqs in nl.epochs().items():
        evs = [e for e in nl.events if e.get("epoch", 0) == epoch]
        first_seq = seqs[0] if seqs else None
        if epoch and seqs:
            first_seq = 0  # a reboot restarts the seq at 0: the new boot's frames before the first received are missing
        started = [e for e in evs if e["event"] == "started" and e.get("first_seq") is not None]
        if started:
            f = int(started[0]["first_seq"])
            first_seq = f if first_seq is None else min(first_seq, f)
        end_seq = (seqs[-1] + 1) if seqs else first_seq
        stops = [e for e in evs if e["event"] == "stopped" and e.get("next_seq") is not None]
        if stops and end_seq is not None:
            end_seq = max(end_seq, int(stops[-1]["next_seq"]))
        have = set(seqs)
        missing = [s for s in range(first_seq, end_seq) if s not in have] if first_seq is not None else []
        gone = {}
        for e in evs:
            if e["event"] == "gone":
                for s in range(int(e["first"]), int(e["last"]) + 1):
                    gone[s] = e.get("reason", "gone")
        reboot = nl.reboots[epoch - 1] if epoch else None
        out.append({
            "epoch": epoch,
            "rebooted_host_us": reboot[0] if reboot else None,
            "detected_by": reboot[1] if reboot else None,
            "first_seq": first_seq,
            "end_seq": end_seq,
            "expected": (end_seq - first_seq) if first_seq is not None else 0,
            "received": len(seqs),
            "missing": len(missing),
            "missing_ranges": [[a, b, _range_reason(a, b, gone)] for a, b in ranges_of(missing)],
        })
    return out


def _sync_warnings(nodes):
    """One line per node whose clock sync is unsure (clock.stats.unsure, acquire/syncquality.py)."""
    out = []
    for n in nodes:
        st = (n.get("clock") or {}).get("stats") or {}
        if st.get("unsure"):
            out.append("node %d (%s): clock sync unsure: %s" % (n["node_id"], n.get("label") or "unmapped", "; ".join(st.get("unsure_reasons") or [])))
    return out


def _range_reason(a, b, gone):
    reasons = {gone.get(s, "unresolved") for s in range(a, b + 1)}
    return "/".join(sorted(reasons))


def _session_s(clock, node_us, start_us):
    if clock is None:
        return None
    return round((float(clock.host_us(node_us)) - start_us) / 1e6, 6)


def _read_scale(nl):
    """nv_per_lsb the recorder read from the node's status characteristic (no status frame streamed yet)."""
    for e in reversed(nl.events):
        if e["event"] == "status_read" and e.get("nv_per_lsb"):
            return e["nv_per_lsb"]
    return None
