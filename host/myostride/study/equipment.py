"""Equipment facts for the report (ISEK asks for them), gathered only from recorded sources.

Sources, in order: the session manifest (node hardware, firmware versions, sampling rates,
self-test/calibration results), the board definition the node ran (hardware/boards/<board>.json:
its "front_end" section for detection mode, input impedance, CMRR, gain, analog filters; its "emg"
section for the chip and PGA gain), the
analysis settings (digital filters) and the clinical file's "electrodes" section (what the
performer placed). A fact no source gives is None and is listed as missing: nothing is assumed.
"""

import json
from pathlib import Path

from ..boards import boards_dir as checkout_boards_dir

from ..dictpath import get_path

FRONT_END_KEYS = ("chip", "detection_mode", "input_impedance", "cmrr_db", "gain", "analog_filters", "adc_bits")
ELECTRODE_KEYS = ("type", "material", "size_mm", "inter_electrode_distance_mm", "skin_preparation",
                  "placement_guide")
# Facts whose absence makes the documentation incomplete (ISEK reporting list).
REQUIRED_FACTS = (
    "node_hardware", "firmware_versions", "sampling_rate_hz", "electrodes.type", "electrodes.size_mm",
    "electrodes.inter_electrode_distance_mm", "front_end.detection_mode", "front_end.input_impedance",
    "front_end.cmrr_db", "front_end.gain", "filters.analysis", "calibration",
)


def default_boards_dir():
    """hardware/boards of a source checkout (None when installed without it)."""
    return checkout_boards_dir()


def split_session(session):
    """(manifest dict, {node_id: latest status dict}) from a Session object or a manifest dict."""
    if session is None:
        return {}, {}
    if hasattr(session, "meta"):
        statuses = {ch.node_id: ch.status for ch in getattr(session, "channels", []) if getattr(ch, "status", None)}
        return session.meta or {}, statuses
    return session, {}


def session_nodes(session_meta, statuses=None):
    """Per-node records from a session manifest (and the nodes' latest status frames).

    Accepts manifest["nodes"] as a list of node dicts or a {node_id: dict} mapping.
    """
    statuses = statuses or {}
    nodes = (session_meta or {}).get("nodes") or []
    if isinstance(nodes, dict):
        nodes = [dict(v, node_id=v.get("node_id", k)) for k, v in nodes.items()]
    out = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        status = statuses.get(node.get("node_id")) or node.get("status") or {}
        firmware = _first(node, "firmware_version", "firmware", "fw_version") or status.get("firmware")
        if isinstance(firmware, (list, tuple)):
            firmware = ".".join(str(x) for x in firmware)
        self_test = _first(node, "self_test", "selftest", "calibration")
        if self_test is None and status.get("selftest") is not None:
            self_test = selftest_from_bits(status["selftest"], imu=bool(status.get("imu_hz")))
        out.append({
            "node_id": node.get("node_id"),
            "label": node.get("label"),
            "side": node.get("side"),
            "muscle": node.get("muscle"),
            "hardware": _first(node, "hardware", "board", "hw"),
            "firmware_version": firmware,
            "emg_hz": _first(node, "emg_hz", "fs_hz") or status.get("emg_hz"),
            "node_filters": _node_filters(status),
            "self_test": self_test,
        })
    return out


def selftest_from_bits(bits, imu=True):
    """Self-test result from the status frame's selftest byte (codec S_* bits set = subsystem passed)."""
    from myowire import codec

    names = (("afe", codec.S_AFE), ("clock", codec.S_CLOCK), ("storage", codec.S_STORAGE)) + \
        ((("imu", codec.S_IMU),) if imu else ())
    failed = [name for name, bit in names if not bits & bit]
    return {"passed": not failed, "bits": int(bits), "failed": failed}


def _node_filters(status):
    if not status or "filter_flags" not in status:
        return None
    from myowire import codec

    flags = status["filter_flags"]
    parts = []
    if flags & codec.FF_HIGHPASS:
        parts.append("high-pass %s Hz (%s order)" % (status.get("highpass_hz"),
                                                    "4th" if flags & codec.FF_HIGHPASS_4TH else "2nd"))
    if flags & codec.FF_POWERLINE:
        parts.append("powerline removal at %s Hz" % status.get("powerline_hz"))
    return "; ".join(parts) or "none (raw)"


def gather_equipment(analysis, clinical, session_meta=None, boards_dir=None):
    """(equipment dict, missing fact names). Every value comes from a named source or is None.

    session_meta: a myostride.session.Session, its manifest dict, or None.
    """
    session_meta, statuses = split_session(session_meta)
    nodes = session_nodes(session_meta, statuses)
    boards_dir = Path(boards_dir) if boards_dir else default_boards_dir()
    hardware = sorted(set(n["hardware"] for n in nodes if n["hardware"]))
    firmware = sorted(set(str(n["firmware_version"]) for n in nodes if n["firmware_version"]))
    rates = sorted(set(float(n["emg_hz"]) for n in nodes if n["emg_hz"]))
    if not rates:
        rates = sorted(set(float(ch["fs_hz"]) for ch in analysis.get("channels", []) if ch.get("fs_hz")))
    front_end = {k: None for k in FRONT_END_KEYS}
    front_end_source = None
    for board in hardware:
        spec = _board_front_end(boards_dir, board)
        if spec:
            for k in FRONT_END_KEYS:
                if front_end[k] is None and spec.get(k) is not None:
                    front_end[k] = spec[k]
            front_end_source = "hardware/boards/%s.json" % board
    electrodes = {k: get_path(clinical, "electrodes." + k) for k in ELECTRODE_KEYS}
    calibration = _calibration(nodes)
    equipment = {
        "system": "myostride",
        "node_hardware": hardware or None,
        "firmware_versions": firmware or None,
        "sampling_rate_hz": rates or None,
        "nodes": nodes,
        "front_end": front_end,
        "electrodes": electrodes,
        "filters": {"analog": front_end.get("analog_filters"),
                    "node": sorted(set(n["node_filters"] for n in nodes if n["node_filters"])) or None,
                    "analysis": analysis.get("settings") or None},
        "calibration": calibration,
        "sources": {
            "nodes": "session manifest" if nodes else None,
            "front_end": front_end_source,
            "electrodes": "clinical file (electrodes)" if any(v is not None for v in electrodes.values()) else None,
            "filters.analysis": "analysis settings" if analysis.get("settings") else None,
        },
    }
    missing = []
    for fact in REQUIRED_FACTS:
        value = equipment
        for part in fact.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None or (fact == "calibration" and value["status"] == "not recorded"):
            missing.append("equipment." + fact)
    return equipment, missing


def equipment_ok(equipment):
    """True when every node passed its self-test, False when one failed, None when not recorded."""
    status = equipment["calibration"]["status"]
    return {"passed": True, "failed": False}.get(status)


def _calibration(nodes):
    results = []
    for n in nodes:
        st = n["self_test"]
        if st is None:
            continue
        if isinstance(st, dict):
            passed = st.get("passed", st.get("ok"))
        elif isinstance(st, bool):
            passed = st
        else:
            passed = str(st).lower() in ("ok", "pass", "passed")
        results.append({"node_id": n["node_id"], "passed": bool(passed) if passed is not None else None,
                        "detail": st})
    if not results or len(results) < len(nodes) or any(r["passed"] is None for r in results):
        status = "failed" if any(r["passed"] is False for r in results) else "not recorded"
    else:
        status = "passed" if all(r["passed"] for r in results) else "failed"
    return {"status": status, "nodes": results}


def _board_front_end(boards_dir, board):
    if boards_dir is None:
        return None
    path = Path(boards_dir) / (str(board) + ".json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    spec = dict(data.get("front_end") or {})
    emg = data.get("emg") if isinstance(data.get("emg"), dict) else {}
    # The pin-map section names the front-end chip and its programmed PGA gain.
    spec.setdefault("chip", emg.get("chip"))
    spec.setdefault("gain", emg.get("gain"))
    return spec


def _first(d, *keys):
    for k in keys:
        if d.get(k) is not None:
            return d[k]
    return None
