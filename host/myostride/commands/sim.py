"""`myostride sim`: a simulated walking patient wearing up to 12 real-firmware nodes.

Builds the scenario (node files, truth), starts the virtual air and one
`micropython` node per sensor (myosim.world.World), tells the user where the
world file is so `myostride scan/record --backend sim` can find the nodes, runs
until the requested simulated time (or Ctrl-C) and writes truth.json with every
fault the air injected.
"""

import argparse
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

from ..errors import UserError

NODE_DIR_PREFIX = "node"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux
MAX_SECONDS = 1800.0  # node files are built in memory: 30 min x 2 kHz is ~170 MB at peak


def _int_range(lo, hi, what):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%s must be a whole number, got %r" % (what, text)) from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError("%s must be %d-%d, got %d" % (what, lo, hi, v))
        return v

    return parse


def _float_range(lo, hi, what, lo_open=False):
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%s must be a number, got %r" % (what, text)) from None
        if v != v or (v <= lo if lo_open else v < lo) or v > hi:
            low = "more than %g" % lo if lo_open else "at least %g" % lo
            raise argparse.ArgumentTypeError("%s must be %s and at most %g, got %g" % (what, low, hi, v))
        return v

    return parse


def _condition(text):
    from myosim.patient import check_condition

    try:
        return check_condition(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_parser(subparsers):
    from myosim.patient import PRESETS

    conds = "; ".join("%s: %s" % (k, v["description"]) for k, v in PRESETS.items())
    p = subparsers.add_parser(
        "sim",
        help="simulate a walking patient wearing real-firmware nodes (no hardware needed)",
        description="Simulate a walking patient wearing up to 12 sensor nodes. Each node runs the real "
        "firmware under the MicroPython unix port and talks over a virtual BLE air (connection "
        "intervals, jitter, bursty loss, disconnects). Then use `myostride scan/record --backend sim`. "
        "Ground truth (gait events, activation intervals, node clocks, faults) goes to truth.json.",
        epilog="Conditions: " + conds,
    )
    p.add_argument("--nodes", type=_int_range(1, 12, "--nodes"), default=12, metavar="N",
                   help="number of nodes, 1-12 (default 12): left leg 1-6, right 7-12; each leg "
                   "tibialis anterior, gastrocnemius medialis, rectus femoris, vastus lateralis, "
                   "semitendinosus, biceps femoris")
    p.add_argument("--condition", type=_condition, default="normal", metavar="NAME",
                   help="gait preset: %s (default normal)" % ", ".join(PRESETS))
    p.add_argument("--affected-side", choices=("left", "right"), default="left",
                   help="affected side for one-sided conditions (hemiplegic); default left")
    p.add_argument("--seconds", type=_float_range(0.0, MAX_SECONDS, "--seconds", lo_open=True), default=60.0,
                   metavar="S", help="simulated walking time in seconds, at most %g (default 60)" % MAX_SECONDS)
    p.add_argument("--seed", type=_int_range(0, 2 ** 31 - 1, "--seed"), default=0, metavar="K",
                   help="random seed: the same seed gives the same patient, signals, clocks and radio faults "
                   "(default 0)")
    p.add_argument("--loss", type=_float_range(0.0, 99.0, "--loss"), default=0.0, metavar="PCT",
                   help="long-run radio packet loss in %% (bursty, Gilbert-Elliott), default 0")
    p.add_argument("--disconnects-per-min", type=_float_range(0.0, 60.0, "--disconnects-per-min"), default=0.0,
                   metavar="R", help="random link losses per node per minute (default 0)")
    p.add_argument("--drift-ppm", type=_float_range(0.0, 500.0, "--drift-ppm"), default=100.0, metavar="X",
                   help="node crystal tolerance: each node drifts by up to +/-X ppm plus slow wander (default 100)")
    p.add_argument("--hum", type=int, choices=(50, 60), default=50, metavar="HZ",
                   help="powerline frequency, 50 or 60 Hz (default 50)")
    p.add_argument("--hum-uv", type=_float_range(0.0, 5000.0, "--hum-uv"), default=5.0, metavar="UV",
                   help="powerline hum amplitude in microvolts, 0 for none (default 5)")
    p.add_argument("--snr-db", type=_float_range(-10.0, 80.0, "--snr-db"), default=30.0, metavar="D",
                   help="EMG signal-to-noise ratio: peak burst RMS over baseline noise RMS, dB (default 30)")
    p.add_argument("--emg-hz", type=int, choices=(1000, 1926, 2000), default=2000, metavar="HZ",
                   help="the nodes' EMG sampling rate: 1000, 1926 or 2000 (default 2000); record with the "
                   "same --emg-hz")
    p.add_argument("--footswitch", action="store_true",
                   help="fit heel/forefoot switches to the tibialis anterior nodes")
    p.add_argument("--lead-off", type=_int_range(0, 100, "--lead-off"), default=0, metavar="N",
                   help="inject N electrode lead-off episodes (0.5-3 s each, random nodes)")
    p.add_argument("--saturation", type=_int_range(0, 100, "--saturation"), default=0, metavar="N",
                   help="inject N cable-tug episodes that drive the input to the rails")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true",
                      help="run in real time (the default; for live use with myostride record)")
    pace.add_argument("--speed", type=_float_range(0.0, 100.0, "--speed", lo_open=True), metavar="F",
                      help="run F times faster than real time (tests, benchmarks)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="folder for node files, world.json and truth.json (default: the folder "
                   "`--backend sim` looks in, $MYOSTRIDE_SIM_WORLD's folder or a per-user runtime folder)")
    p.add_argument("--files-only", action="store_true",
                   help="write the node files and truth.json, do not start the air and nodes")
    p.set_defaults(run=run)


def _live_world(world_json):
    """True if a running simulation is serving from this world file."""
    from myosim.nodefiles import read_world

    try:
        world = read_world(world_json)
    except (OSError, ValueError):
        return False
    for key in ("host_socket", "air_socket"):
        path = world.get(key)
        if path and os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return True
            except OSError:
                pass
            finally:
                s.close()
    return False


def prepare_out(out, world_name="world.json"):
    """Make `out` ready for a new simulation without touching anything that is not ours."""
    out = Path(out).expanduser().resolve()
    world_json = out / world_name
    if out.exists() and not out.is_dir():
        raise UserError("--out %s is a file; give a folder" % out)
    if out.exists() and any(out.iterdir()):
        if not world_json.exists() and not (out / "truth.json").exists():
            raise UserError("%s is not empty and is not a simulation folder; choose a new or empty folder "
                            "with --out (or another MYOSTRIDE_SIM_WORLD)" % out)
        if _live_world(world_json):
            raise UserError("a simulation is already running in %s; stop it (Ctrl-C) or choose another --out" % out)
        for d in out.glob(NODE_DIR_PREFIX + "[0-9][0-9]"):
            if (d / "node.json").exists():
                shutil.rmtree(d)
        _keep_previous_truth(out)
        for name in ("faults.jsonl", "air.log", "radio.json", world_name):
            if (out / name).exists():
                (out / name).unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _keep_previous_truth(out):
    """Move an earlier run's truth.json to previous/ (a session recorded then still needs it)."""
    old = out / "truth.json"
    if not old.exists():
        return
    prev = out / "previous"
    prev.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(old.stat().st_mtime))
    dest = prev / ("truth-%s.json" % stamp)
    i = 1
    while dest.exists():
        i += 1
        dest = prev / ("truth-%s-%d.json" % (stamp, i))
    old.rename(dest)


def socket_paths(out):
    """Unix socket paths for the air: in `out` when short enough, else in a fresh temp folder."""
    air, host = out / "air.sock", out / "host.sock"
    if len(str(host)) <= _SOCKET_PATH_MAX:
        return air, host
    d = Path(tempfile.mkdtemp(prefix="myosim-"))
    return d / "air.sock", d / "host.sock"


def radio_settings(args):
    return {"seed": int(args.seed), "loss_pct": float(args.loss),
            "random_disconnects_per_min": float(args.disconnects_per_min)}


def run(args):
    from myosim import nodefiles
    from myosim.scenario import build_scenario, write_truth

    if args.out:
        out = prepare_out(args.out)
        world_json = out / "world.json"
    else:  # publish where `--backend sim` looks by default
        from myosim.backend import default_world_path

        world_json = default_world_path().expanduser().resolve()
        out = prepare_out(world_json.parent, world_json.name)
        world_json = out / world_json.name
    speed = 1.0 if args.speed is None else float(args.speed)
    radio = radio_settings(args)
    try:
        from myosim.radiomodel import radio_config

        radio_config(radio)
        scenario = build_scenario(
            out, nodes=args.nodes, condition=args.condition, seconds=args.seconds, seed=args.seed,
            drift_ppm=args.drift_ppm, hum_hz=args.hum if args.hum_uv > 0 else None, hum_amp_uv=args.hum_uv,
            snr_db=args.snr_db, emg_hz=args.emg_hz, footswitch=args.footswitch, lead_off=args.lead_off,
            saturation=args.saturation, affected_side=args.affected_side, world_path=world_json)
    except ValueError as e:
        raise UserError(str(e)) from None
    print("myostride sim: %d node(s), %s, %g s, seed %d -> %s" % (
        args.nodes, args.condition, args.seconds, args.seed, out))
    if args.files_only:
        path = write_truth(scenario, (), None)
        print("node files written; truth: %s" % path)
        return 0
    air_sock, host_sock = socket_paths(out)
    nodefiles.write_world(scenario.world_path, air_sock, host_sock, args.seconds, speed=speed)
    try:
        return _run_world(scenario, radio, args.seconds, speed, out)
    finally:
        if air_sock.parent != out:  # our temp folder for long socket paths
            shutil.rmtree(air_sock.parent, ignore_errors=True)


def _run_world(scenario, radio, seconds, speed, out):
    from myosim.backend import default_world_path
    from myosim.nodefiles import global_time_s, read_world
    from myosim.scenario import write_truth
    from myosim.world import World, WorldError

    world_path = scenario.world_path
    if world_path.resolve() == default_world_path().resolve():
        hint = "myostride scan --backend sim"
    else:
        hint = "myostride scan --backend sim --world %s" % world_path
    w = World(scenario.node_jsons, world_path, radio)
    interrupted = False
    g = 0.0

    def on_term(_sig, _frame):
        raise KeyboardInterrupt  # stop like Ctrl-C: take the world down, keep the truth

    old_term = signal.signal(signal.SIGTERM, on_term)
    try:
        try:
            w.start()
        except WorldError as e:
            raise UserError("could not start the simulated world: %s" % e) from None
        print("world: %s  (find the nodes with: %s)" % (world_path, hint))
        maps = " ".join("--map %d=%s:%s" % (n["node_id"], n["side"], n["muscle"]) for n in scenario.truth["nodes"])
        emg_hz = scenario.truth["settings"]["emg_hz"]
        rate = "" if emg_hz == 2000 else "--emg-hz %d " % emg_hz
        record = "record --backend sim --out SESSION_DIR " + rate + maps
        print("record with: %s" % hint.replace("scan --backend sim", record, 1))
        print("running %g s of walking at %gx real time; Ctrl-C stops early" % (seconds, speed), flush=True)
        world = read_world(world_path)
        next_report = 10.0
        warned = set()
        g = global_time_s(world)
        while g < seconds:
            air_up, nodes_up = w.running()
            if not air_up:
                raise UserError("the virtual air stopped unexpectedly; see %s" % w.air_log)
            for i, up in enumerate(nodes_up):
                if not up and i not in warned:
                    warned.add(i)
                    print("warning: node process %s exited (code %s); see %s" % (
                        scenario.node_jsons[i].parent.name, w.exit_codes()[i], w.node_logs[i]), file=sys.stderr)
            if warned and len(warned) == len(nodes_up):
                raise UserError("every node process exited; see the node.log files in %s" % out)
            if g >= next_report:
                print("  t = %5.1f s simulated" % g, flush=True)
                next_report += 10.0
            time.sleep(min(0.2, max(0.01, (seconds - g) / speed)))
            g = global_time_s(world)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, old_term)
        w.stop()
        scenario.truth["ran_s"] = round(min(g, seconds), 3)
        path = write_truth(scenario, w.faults(), w.radio)
    kinds = {}
    for f in scenario.truth["faults"]:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    print("%s at t = %.1f s; truth: %s; faults: %s" % (
        "interrupted" if interrupted else "done", min(g, seconds), path,
        ", ".join("%s %d" % kv for kv in sorted(kinds.items())) or "none"))
    return 130 if interrupted else 0
