"""Build a whole simulated trial: one node directory per sensor, plus the truth.

`build_scenario` turns (layout, condition, seed, options) into node files
(myosim.nodefiles format) and a truth dict; `write_truth` adds the faults the
virtual air logged and writes truth.json (schema: simulators/TRUTH.md). The
same seed gives byte-identical node files and the same truth: each part draws
from its own seeded stream (patient, node signals, node clock, faults), so
adding a node does not change the others.
"""

import json
import math
from pathlib import Path

import numpy as np

from . import nodefiles
from .clocks import make_clock
from .emg import emg_uv, quantise, segment_of
from .imu import footswitch_edges, imu_codes
from .patient import PEAK_RMS_UV, PRESETS, Patient, check_condition
from .physiology import check_muscle, check_side

TRUTH_SCHEMA = "myosim.truth/1"
_SIDE_MUSCLES = ("tibialis_anterior", "gastrocnemius_medialis", "rectus_femoris",
                 "vastus_lateralis", "semitendinosus", "biceps_femoris")
# (node_id, side, muscle): the bilateral set clinics use for CP gait; left 1-6, right 7-12.
DEFAULT_LAYOUT = tuple((i + 1, "left", m) for i, m in enumerate(_SIDE_MUSCLES)) + tuple(
    (i + 7, "right", m) for i, m in enumerate(_SIDE_MUSCLES))
MAX_NODES = 12
MARGIN_S = 5.0  # node files run this long past the trial end (radio catch-up)
SATURATION_UV = 25000.0  # cable tug: beyond the +/-16 mV input range at 500 nV/LSB


def node_label(node_id):
    return "node%02d" % int(node_id)


def _stream(seed, *keys):
    return np.random.default_rng(np.random.SeedSequence([int(seed)] + [int(k) for k in keys]))


class Scenario:
    """A built scenario: where its files are and what is true about it."""

    def __init__(self, out_dir, world_path, node_jsons, truth):
        self.out_dir = Path(out_dir)
        self.world_path = Path(world_path)
        self.node_jsons = list(node_jsons)
        self.truth = truth

    @property
    def truth_path(self):
        return self.out_dir / "truth.json"


def check_layout(layout):
    """Validate a [(node_id, side, muscle), ...] layout; returns it normalised."""
    out, seen = [], set()
    for node_id, side, muscle in layout:
        node_id = int(node_id)
        if not 1 <= node_id <= 255 or node_id in seen:
            raise ValueError("node ids must be unique and in 1..255 (got %r)" % node_id)
        seen.add(node_id)
        out.append((node_id, check_side(side), check_muscle(muscle)))
    return tuple(out)


def build_scenario(out_dir, nodes=12, condition="normal", seconds=60.0, seed=0, drift_ppm=100.0,
                   hum_hz=50, hum_amp_uv=5.0, snr_db=30.0, emg_hz=2000, imu_hz=100, nv_per_lsb=500,
                   footswitch=False, lead_off=0, saturation=0, artifacts=True, affected_side="left",
                   layout=None, world_path=None, wander=True):
    """Write node directories for the first `nodes` entries of the layout and return a Scenario.

    out_dir gets node01/..node12/ (nodefiles format); world_path (default
    out_dir/world.json) is what each node.json points to (the World runner writes it).
    lead_off / saturation: how many episodes of each signal fault to inject.
    """
    condition = check_condition(condition)
    if not 1 <= int(nodes) <= MAX_NODES:
        raise ValueError("nodes must be 1..%d" % MAX_NODES)
    if not seconds > 0:
        raise ValueError("seconds must be positive")
    if hum_hz not in (None, 0, 50, 60):
        raise ValueError("hum must be 50 or 60 Hz (or off)")
    if drift_ppm < 0 or drift_ppm > 500:
        raise ValueError("drift_ppm must be 0..500")
    layout = check_layout(layout or DEFAULT_LAYOUT)[: int(nodes)]
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    world_path = Path(world_path).resolve() if world_path else out / "world.json"
    seconds = float(seconds)
    span_s = seconds + MARGIN_S
    patient = Patient(condition, -4.0, span_s + 1.0, seed, affected_side=affected_side)
    fault_rng = _stream(seed, 9000)
    lead_plan = _plan_episodes(fault_rng, layout, lead_off, seconds, (0.5, 3.0))
    sat_plan = _plan_episodes(fault_rng, layout, saturation, seconds, (0.08, 0.3))
    node_jsons, nodes_truth, channels_truth, faults = [], [], [], []
    for node_id, side, muscle in layout:
        clock = make_clock(_stream(seed, 4000, node_id), span_s + 1.0, drift_ppm, wander)
        n_emg = int(math.ceil(clock.node_us(span_s) * emg_hz / 1e6))
        t_emg = clock.global_s(np.arange(n_emg) * (1e6 / emg_hz))
        uv = emg_uv(patient, side, muscle, t_emg, emg_hz, _stream(seed, 5000, node_id), snr_db,
                    hum_hz, hum_amp_uv, artifacts)
        for start_s, dur_s in sat_plan.get(node_id, ()):
            i0, i1 = np.searchsorted(t_emg, (start_s, start_s + dur_s))
            sign = 1.0 if fault_rng.random() < 0.5 else -1.0
            uv[i0:i1] += sign * SATURATION_UV * np.sin(np.pi * (t_emg[i0:i1] - start_s) / dur_s)
        codes = quantise(uv, nv_per_lsb)
        for start_s, dur_s in sat_plan.get(node_id, ()):
            i0, i1 = np.searchsorted(t_emg, (start_s, start_s + dur_s))
            clipped = int(np.count_nonzero((codes[i0:i1] == 32767) | (codes[i0:i1] == -32768)))
            faults.append({"kind": "saturation", "source": "signal", "node_id": node_id,
                           "start_s": round(start_s, 6), "end_s": round(start_s + dur_s, 6),
                           "clipped_samples": clipped})
        lead_ranges = []
        for start_s, dur_s in lead_plan.get(node_id, ()):
            k0, k1 = (int(x) for x in np.searchsorted(t_emg, (start_s, start_s + dur_s)))
            codes[k0:k1] = 32767  # electrode off: the input is pulled to the positive rail
            lead_ranges.append((k0, k1))
            faults.append({"kind": "lead_off", "source": "signal", "node_id": node_id,
                           "start_s": round(float(t_emg[k0]), 6), "end_s": round(float(t_emg[k1 - 1]), 6),
                           "k_start": k0, "k_end": k1})
        n_imu = int(math.ceil(clock.node_us(span_s) * imu_hz / 1e6))
        t_imu = clock.global_s(np.arange(n_imu) * (1e6 / imu_hz))
        segment = segment_of(muscle)
        imu = imu_codes(t_imu, patient.sides[side], _stream(seed, 6000, node_id), segment)
        foot = None
        has_foot = bool(footswitch) and muscle == "tibialis_anterior"
        if has_foot:
            foot = []
            for t, inp, lvl in footswitch_edges(patient.sides[side], float(t_emg[0]), float(t_emg[-1])):
                k = int(math.ceil(clock.node_us(t) * emg_hz / 1e6))
                foot.append((k, inp, lvl))
        d = out / node_label(node_id)
        node_jsons.append(nodefiles.write_node_dir(
            d, node_id, codes, clock.knots, world_path, emg_hz=emg_hz, imu=imu, imu_hz=imu_hz,
            foot=foot, nv_per_lsb=nv_per_lsb, lead_off=lead_ranges))
        nodes_truth.append({
            "node_id": node_id, "label": node_label(node_id), "side": side, "muscle": muscle,
            "segment": segment, "imu": True, "footswitch": has_foot,
            "emg_samples": n_emg, "imu_samples": n_imu,
            "first_sample_s": round(float(t_emg[0]), 6),
            "peak_rms_uv": PEAK_RMS_UV.get(muscle, 100.0),
            "noise_rms_uv": round(PEAK_RMS_UV.get(muscle, 100.0) / 10 ** (snr_db / 20.0), 4),
            "clock": clock.truth(),
        })
        channels_truth.append({
            "node_id": node_id, "side": side, "muscle": muscle,
            "windows_pct": [list(w) for w in patient.windows_pct(side, muscle)],
            "intervals_s": [[round(a, 6), round(b, 6)] for a, b in patient.intervals_s(side, muscle, 0.0, seconds)],
            "strides": patient.stride_intervals(side, muscle, 0.0, seconds),
        })
    truth = {
        "schema": TRUTH_SCHEMA,
        "version": 1,
        "seed": int(seed),
        "condition": condition,
        "condition_description": PRESETS[condition]["description"],
        "affected_side": affected_side if PRESETS[condition]["affected"] == "one" else None,
        "seconds": seconds,
        "settings": {"snr_db": snr_db, "hum_hz": hum_hz or None, "hum_amp_uv": hum_amp_uv if hum_hz else 0.0,
                     "drift_ppm": drift_ppm, "wander": bool(wander), "emg_hz": emg_hz, "imu_hz": imu_hz,
                     "nv_per_lsb": nv_per_lsb, "artifacts": bool(artifacts), "footswitch": bool(footswitch)},
        "gait": dict(patient.gait_summary(), events=patient.events(0.0, seconds)),
        "nodes": nodes_truth,
        "channels": channels_truth,
        "faults": sorted(faults, key=lambda f: (f["start_s"], f["node_id"])),
        "radio": None,
    }
    return Scenario(out, world_path, node_jsons, truth)


def _plan_episodes(rng, layout, count, seconds, dur_range_s):
    """{node_id: [(start_s, dur_s)]} for `count` fault episodes on random nodes."""
    plan = {}
    for _ in range(int(count)):
        node_id = layout[int(rng.integers(len(layout)))][0]
        dur = float(rng.uniform(*dur_range_s))
        start = float(rng.uniform(0.1 * seconds, max(0.1 * seconds, 0.9 * seconds - dur)))
        plan.setdefault(node_id, []).append((start, dur))
    return plan


def _fault_order(f):
    """Signal faults carry start_s/node_id, the air's g_s/node."""
    t = f.get("start_s", f.get("g_s", f.get("at_s", 0.0)))
    return (float(t), int(f.get("node_id", f.get("node", 0)) or 0), f["kind"])


def write_truth(scenario, air_faults=(), radio=None, path=None):
    """Add the air's logged faults (and radio config) to the truth and write truth.json."""
    truth = dict(scenario.truth)
    extra = [dict(f, source=f.get("source", "air")) for f in air_faults]
    truth["faults"] = sorted(truth["faults"] + extra, key=_fault_order)
    truth["radio"] = radio
    p = Path(path) if path else scenario.truth_path
    p.write_text(json.dumps(truth, indent=1))
    scenario.truth = truth
    return p
