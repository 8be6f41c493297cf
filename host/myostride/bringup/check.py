"""Pre-trial check: is every mapped node working and every electrode good enough to record?

Two phases, both through the production code paths:
 1. self-test per node over its link (acquire.link): the status frame's self-test
    bits (front end and IMU responding, clock, storage), its flags (lead-off,
    clipping, overrun, config on defaults, low battery) and battery level, plus two
    time-sync exchanges a moment apart: the node's clock must advance with the host's;
 2. a short recording (acquire.recorder, 5-10 s) whose channels get the same
    signal-quality metrics as the analysis (analysis.pipeline / analysis.quality):
    baseline noise (uV RMS), powerline share, lead-off, clipping.
Each failure comes with what to do about it. Results go to check.json (schema
"myostride.check/1") next to the short recording.
"""

import asyncio
import json
import shutil
import time
from pathlib import Path

import numpy as np

from myowire import codec

from ..errors import UserError

SCHEMA = "myostride.check/1"
# Pre-trial limits: stricter than the analysis's "unusable" limits, because before the
# trial the fix is cheap (re-prep the skin, replace an electrode).
LIMITS = {
    "baseline_noise_uv": 20.0,  # RMS at rest after band-pass; good skin contact gives a few uV
    "powerline_ratio": 0.5,  # share of in-band power at mains harmonics
    "clipping_pct": 1.0,  # % of samples stuck at a rail
    "battery_pct": 20.0,  # a 10-minute trial plus set-up needs more than this
    "clock_rate_ppm": 1000.0,  # a crystal is off by tens of ppm; 1000 ppm means the clock is broken
}
SYNC_GAP_S = 0.5


class Problem:
    def __init__(self, what, fix):
        self.what = what
        self.fix = fix

    def to_json(self):
        return {"what": self.what, "fix": self.fix}


# ---------------------------------------------------------------- phase 1: self-test

async def _self_test(link, clock_us):
    """Status + clock probe of one connected node -> dict."""
    from ..acquire.link import CommandFailed

    out = {"node_id": link.node_id}
    try:
        _f, _t1, ack = await link.send(codec.C_STATUS, timeout_s=3.0)
        st = await link.read_status()
        _f, t1a, a = await link.send(codec.C_SYNC, timeout_s=3.0)
        await asyncio.sleep(SYNC_GAP_S)
        _f, t1b, b = await link.send(codec.C_SYNC, timeout_s=3.0)
    except CommandFailed as exc:
        out["error"] = str(exc)
        return out
    out["status"] = st
    out["status_note"] = ack.get("message", "")
    # Causality: ping a reached the node between its send (t1a) and our receipt of the reply
    # (t4a), likewise b; so the node's clock must advance between t1b-t4a and t4b-t1a.
    t4a, t4b = a["recv_us"], b["recv_us"]
    out["clock"] = {
        "host_dt_s": round((b["t1_us"] - a["t1_us"]) / 1e6, 6),
        "node_dt_s": round((b["t2_us"] - a["t2_us"]) / 1e6, 6),
        "min_s": round((b["t1_us"] - t4a) / 1e6, 6),
        "max_s": round((t4b - a["t1_us"]) / 1e6, 6),
    }
    return out


async def self_tests(node_ids, backend, scan_s=8.0):
    """{node_id: self-test dict} for all nodes, connected concurrently; unseen nodes get 'error'.

    backend: an acquire.backends.Backend."""
    from ..acquire.link import NodeLink
    from ..acquire.scanner import scan

    clock_us = backend.host_clock_us
    kw = backend.device_kwargs()
    found = await scan(scan_s, backend, want=set(node_ids))
    client_cls = backend.client_backend
    results = {}

    async def one(nid):
        if nid not in found:
            results[nid] = {"node_id": nid, "error": "not advertising"}
            return
        link = NodeLink(nid, found[nid].device, clock_us, lambda *a: None, lambda *a: None, lambda *a: None,
                        client_cls=client_cls, client_kwargs=kw)
        try:
            await link.connect()
        except Exception as exc:
            results[nid] = {"node_id": nid, "error": "cannot connect: %s" % exc}
            return
        try:
            results[nid] = await _self_test(link, clock_us)
        finally:
            await link.disconnect()

    await asyncio.gather(*(one(n) for n in node_ids))
    return results


def judge_self_test(st):
    """Problems found by the self-test of one node."""
    nid = st["node_id"]
    if "error" in st:
        return [Problem("node %d: %s" % (nid, st["error"]),
                        "switch node %d on, charge it, bring it within a few metres, check its id (myostride scan)" % nid)]
    p = []
    s = st["status"]
    if s is None:
        return [Problem("node %d sent no status" % nid, "reboot node %d (myostride node reboot --node %d)" % (nid, nid))]
    bits = s["selftest"]
    if not bits & codec.S_AFE:
        p.append(Problem("node %d: EMG front end not responding" % nid,
                         "reboot node %d; if it persists the node needs service (front-end chip or wiring)" % nid))
    if s["imu_hz"] and not bits & codec.S_IMU:
        p.append(Problem("node %d: IMU not responding" % nid,
                         "reboot node %d; if it persists switch its IMU off (node config --imu-hz 0) and use footswitches" % nid))
    if not bits & codec.S_CLOCK:
        p.append(Problem("node %d: clock self-test failed" % nid, "reboot node %d" % nid))
    clk = st.get("clock")
    if clk:
        tol = LIMITS["clock_rate_ppm"] * 1e-6
        if not clk["min_s"] * (1 - tol) <= clk["node_dt_s"] <= clk["max_s"] * (1 + tol):
            p.append(Problem("node %d: clock not running right (advanced %.3f s while %.3f-%.3f s passed)"
                             % (nid, clk["node_dt_s"], clk["min_s"], clk["max_s"]), "reboot node %d" % nid))
    if s["battery_pct"] < LIMITS["battery_pct"] or s["flags"] & codec.F_LOW_BATTERY:
        p.append(Problem("node %d: battery %d %% (%d mV) < %d %%" % (nid, s["battery_pct"], s["battery_mv"], LIMITS["battery_pct"]),
                         "charge node %d or swap it for a charged one" % nid))
    if s["flags"] & codec.F_CONFIG_DEFAULTS:
        p.append(Problem("node %d runs on default settings (%s)" % (nid, st.get("status_note") or "its config.json was rejected"),
                         "set its config: myostride node config --node %d --node-id %d ..." % (nid, nid)))
    if s["flags"] & codec.F_OVERRUN:
        p.append(Problem("node %d lost samples on board (overrun)" % nid, "reboot node %d; reflash if it persists" % nid))
    return p


# ---------------------------------------------------------------- phase 2: signal quality

def channel_quality(ch):
    """Quality metrics of one session channel, computed by the analysis code (same numbers as the report)."""
    from ..analysis import pipeline
    from ..analysis.channels import EmgInput

    inp = EmgInput(ch.label, ch.fs_hz, ch.t_s, ch.uv, ch.side, ch.muscle, ch.gaps, ch.lead_off)
    if len(inp.t_s) < 64:
        return {"samples": int(len(inp.t_s))}
    cond = pipeline.condition_channel(inp, pipeline.settings_with())
    q, _usable, _warnings = pipeline.channel_quality(inp, cond)
    q["samples"] = int(len(inp.t_s))
    q["lead_off_flagged"] = bool(ch.lead_off) or bool((ch.status or {}).get("flags", 0) & codec.F_LEAD_OFF)
    if q.get("baseline_noise_uv") is None and not q.get("lead_off_flagged"):
        fin = np.isfinite(cond.emg)  # an unmodulated (resting) channel: all of it is baseline
        if fin.any():
            q["baseline_noise_uv"] = round(float(np.sqrt(np.mean(cond.emg[fin] ** 2))), 3)
    return q


def judge_quality(nid, where, q, expected_samples):
    p = []
    if q.get("samples", 0) < 0.5 * expected_samples:
        return [Problem("node %d (%s): only %d of %d samples arrived" % (nid, where, q.get("samples", 0), expected_samples),
                        "check the radio link: bring node %d closer, away from metal, and check again" % nid)]
    if q.get("lead_off_flagged"):
        p.append(Problem("node %d (%s): electrode lead-off" % (nid, where),
                         "replace electrode on node %d / press its electrodes and reference on firmly" % nid))
    noise = q.get("baseline_noise_uv")
    if not q.get("lead_off_flagged") and noise is not None and noise > LIMITS["baseline_noise_uv"]:
        p.append(Problem("node %d (%s): noise %.0f uV > %.0f uV" % (nid, where, noise, LIMITS["baseline_noise_uv"]),
                         "re-prep skin / replace electrode on node %d" % nid))
    if q.get("powerline_ratio", 0) > LIMITS["powerline_ratio"]:
        p.append(Problem("node %d (%s): powerline hum %.0f %% of the signal > %.0f %%"
                         % (nid, where, 100 * q["powerline_ratio"], 100 * LIMITS["powerline_ratio"]),
                         "check the reference electrode of node %d; keep cables away from mains leads" % nid))
    # An electrode off sits at the rail: that clipping is the lead-off, reported above.
    if not q.get("lead_off_flagged") and q.get("clipping_pct", 0) > LIMITS["clipping_pct"]:
        p.append(Problem("node %d (%s): clipping %.1f %% > %.0f %%" % (nid, where, q["clipping_pct"], LIMITS["clipping_pct"]),
                         "check electrode contact and cable strain on node %d (motion artefacts)" % nid))
    return p


# ---------------------------------------------------------------- the whole check

def run_check(mapping, seconds, out_dir, backend, say=print):
    """Run both phases; write out_dir/check.json; returns the result dict (backend: a Backend)."""
    from ..acquire.mapping import parse_mapping
    from ..acquire.recorder import record_session
    from ..session import load_session

    if not 5 <= seconds <= 10:
        raise UserError("--seconds must be 5-10 (a short rest recording), got %g" % seconds)
    maps = parse_mapping(mapping)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    say("Self-test of %d node(s)..." % len(maps))
    tests = asyncio.run(self_tests([m.node_id for m in maps], backend))
    problems = {m.node_id: judge_self_test(tests[m.node_id]) for m in maps}
    reachable = [m for m in maps if "error" not in tests[m.node_id]]
    qualities = {}
    if reachable:
        say("Recording %g s of signal for the quality check (keep the patient still)..." % seconds)
        sess_dir = out / "check-session"
        if sess_dir.exists():
            shutil.rmtree(sess_dir)
        items = ["%d=%s:%s" % (m.node_id, m.side, m.muscle) for m in reachable]
        asyncio.run(record_session(sess_dir, items, seconds, backend=backend))
        sess = load_session(sess_dir)
        by_node = {ch.node_id: ch for ch in sess.channels}
        for m in reachable:
            ch = by_node.get(m.node_id)
            where = "%s %s" % (m.side, m.muscle.replace("_", " "))
            if ch is None:
                problems[m.node_id].append(Problem("node %d (%s): no EMG arrived" % (m.node_id, where),
                                                   "reboot node %d and check again" % m.node_id))
                continue
            q = channel_quality(ch)
            qualities[m.node_id] = q
            problems[m.node_id] += judge_quality(m.node_id, where, q, int(seconds * ch.fs_hz))
    result = {
        "schema": SCHEMA,
        "started_utc": started,
        "backend": backend.name,
        "radio": backend.describe(),
        "seconds": seconds,
        "limits": LIMITS,
        "passed": not any(problems.values()),
        "nodes": [],
        "session_dir": "check-session" if reachable else None,
    }
    for m in maps:
        st = tests[m.node_id]
        s = st.get("status") or {}
        result["nodes"].append({
            "node_id": m.node_id, "side": m.side, "muscle": m.muscle,
            "passed": not problems[m.node_id],
            "problems": [p.to_json() for p in problems[m.node_id]],
            "firmware": s.get("firmware"), "battery_pct": s.get("battery_pct"), "battery_mv": s.get("battery_mv"),
            "selftest": {"afe": bool(s.get("selftest", 0) & codec.S_AFE), "imu": bool(s.get("selftest", 0) & codec.S_IMU),
                         "clock": bool(s.get("selftest", 0) & codec.S_CLOCK),
                         "storage": bool(s.get("selftest", 0) & codec.S_STORAGE)} if s else None,
            "flags": [n for bit, n in codec.FLAG_NAMES if s.get("flags", 0) & bit],
            "imu_hz": s.get("imu_hz"),
            "clock_probe": st.get("clock"),
            "error": st.get("error"),
            "quality": qualities.get(m.node_id),
        })
    (out / "check.json").write_text(json.dumps(result, indent=1, default=_json_default))
    return result


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.bool_):
        return bool(o)
    raise TypeError(type(o))


def print_table(result, console=None):
    """The pass/fail table (rich) and one line per thing to fix."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console()
    t = Table(title="Pre-trial check (%g s)" % result["seconds"])
    for col in ("node", "muscle", "self-test", "battery", "noise uV", "hum %", "lead-off", "clip %", "result"):
        t.add_column(col, justify="right" if col in ("battery", "noise uV", "hum %", "clip %") else "left",
                     overflow="fold", no_wrap=col != "muscle")
    for n in result["nodes"]:
        q = n.get("quality") or {}
        st = n.get("selftest")
        st_txt = "-" if st is None else ("ok" if st["afe"] and st["clock"] and (st["imu"] or not n.get("imu_hz")) else "FAIL")
        noise = q.get("baseline_noise_uv")
        t.add_row(
            str(n["node_id"]), "%s %s" % (n["side"][0].upper(), n["muscle"].replace("_", " ")), st_txt,
            "-" if n["battery_pct"] is None else "%d %%" % n["battery_pct"],
            "-" if noise is None else "%.1f" % noise,
            "-" if "powerline_ratio" not in q else "%.0f" % (100 * q["powerline_ratio"]),
            "yes" if q.get("lead_off_flagged") else ("-" if not q else "no"),
            "-" if "clipping_pct" not in q else "%.1f" % q["clipping_pct"],
            "[green]PASS[/green]" if n["passed"] else "[red]FAIL[/red]",
        )
    con.print(t)
    fixes = [p for n in result["nodes"] for p in n["problems"]]
    if not fixes:
        con.print("[green]All nodes pass: ready to record.[/green]")
    for p in fixes:
        con.print("[red]FIX[/red] %s: %s" % (p["what"], p["fix"]))
