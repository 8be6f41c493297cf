"""Real-stack world runner: the unmodified firmware on NimBLE MicroPython, linked by Bumble.

    with RealWorld(node_jsons, "run/world.json", {"loss_pct": 2, "drops": [...]}) as w:
        w.hci   # ["unix:run/hci0.sock"]: what the host opens (`--backend bumble --hci ...`)

Same life cycle as myosim.world.World (start/stop/wait/running/cpu_seconds/faults) so
tests and the demo can swap one for the other. Processes: one link process
(linkproc.py: every Bumble controller on one FaultyLink) and one NimBLE `micropython`
per node, its HCI UART on that node's pty (MICROPYBTUART). All die with the parent
(PR_SET_PDEATHSIG) and stop() reaps them with a bound.

No air time: the link delivers PDUs as fast as the CPU allows. Timing studies use the
virtual air (myosim.world); throughput measured here is CPU-bound, not radio-bound.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from myosim.nodefiles import read_world
from myosim.realstack import build
from myosim.realstack.faultlink import FaultConfig
from myosim.world import _LIVE, _SUN_PATH_MAX, DEFAULT_HEAPSIZE, FIRMWARE_DIR, PROTOCOL_DIR, ROOT, WorldError, _child_setup, _cpu_s

MAX_CENTRALS = 4


class RealWorld:
    """Link process + NimBLE node processes of one real-stack world."""

    def __init__(self, node_json_paths, world_json, radio_config=None, centrals=1, exe=None,
                 firmware_dir=FIRMWARE_DIR, script="main.py", heapsize=DEFAULT_HEAPSIZE, env=None, faults_path=None,
                 extra_path=()):
        self.node_jsons = [Path(p) for p in node_json_paths]
        self.world_json = Path(world_json)
        radio = dict(radio_config or {})
        self.drops = list(radio.pop("drops", []))
        self.fault_config = FaultConfig.from_dict(radio)  # validates
        self.radio = dict(self.fault_config.to_dict(), drops=self.drops, stack="nimble")
        if not 1 <= int(centrals) <= MAX_CENTRALS:
            raise WorldError("centrals must be 1-%d, got %r" % (MAX_CENTRALS, centrals))
        self.centrals = int(centrals)
        self.exe = Path(exe) if exe else None
        self.firmware_dir = Path(firmware_dir)
        self.script = script
        self.heapsize = heapsize
        self.env = dict(env or {})
        self.extra_path = [Path(p) for p in extra_path]
        self.faults_path = Path(faults_path) if faults_path else self.world_json.parent / "faults.jsonl"
        self.link = None
        self.air = None  # (World compatibility: the process that carries the radio)
        self.nodes = []
        self.node_ids = []
        self.node_logs = [p.parent / "node.log" for p in self.node_jsons]
        self.link_log = self.world_json.parent / "link.log"
        self.cpu_at_stop = None
        self._files = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def world(self):
        return read_world(self.world_json)

    @property
    def hci(self):
        """HCI transports of the central controller(s), for the host's Bumble backend."""
        return list(self.world.get("hci", []))

    def micropython_path(self):
        # No simulators/upy here: `bluetooth` is the binary's own NimBLE module.
        return os.pathsep.join(str(d) for d in [self.firmware_dir] + self.extra_path + [PROTOCOL_DIR])

    def start(self, timeout_s=15.0):
        if not self.world_json.exists():
            raise WorldError("no world file at %s: write it with myosim.nodefiles.write_world" % self.world_json)
        if not (self.firmware_dir / self.script).exists():
            raise WorldError("node program %s does not exist" % (self.firmware_dir / self.script))
        missing = [str(p) for p in self.node_jsons if not p.exists()]
        if missing:
            raise WorldError("missing node.json: %s" % ", ".join(missing))
        sock = self.world_json.parent / ("hci%d.sock" % (self.centrals - 1))
        if len(str(sock).encode()) > _SUN_PATH_MAX:
            raise WorldError("socket path %s is too long for AF_UNIX: put the world in a shorter directory" % sock)
        if self.exe is None:
            try:
                self.exe = build.ensure_binary()
            except build.BuildError as e:
                raise WorldError(str(e)) from None
        self.node_ids = [int(json.loads(p.read_text())["node_id"]) for p in self.node_jsons]
        self.faults_path.write_text("")
        _LIVE.add(self)
        try:
            self._start_link(timeout_s)
            self._start_nodes()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_link(self, timeout_s):
        world = self.world
        for k in ("stack", "hci", "node_ptys", "link_pid"):  # left by an earlier run of this world
            world.pop(k, None)
        self.world_json.write_text(json.dumps(world, indent=1))
        radio_path = self.world_json.parent / "radio.json"
        radio_path.write_text(json.dumps(self.radio, indent=1))
        log = open(self.link_log, "ab")
        self._files.append(log)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "simulators"), env.get("PYTHONPATH", "")])
        cmd = [sys.executable, "-m", "myosim.realstack.linkproc", "--world", str(self.world_json),
               "--nodes", ",".join(str(n) for n in self.node_ids), "--centrals", str(self.centrals),
               "--radio", str(radio_path), "--faults", str(self.faults_path)]
        self.link = self.air = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_child_setup())
        deadline = time.monotonic() + timeout_s
        while "hci" not in self._world_or_empty():
            if self.link.poll() is not None:
                raise WorldError("the Bumble link exited at start (code %s); see %s" % (self.link.returncode, self.link_log))
            if time.monotonic() > deadline:
                raise WorldError("the Bumble link did not open its transports within %.0f s; see %s" % (timeout_s, self.link_log))
            time.sleep(0.02)

    def _world_or_empty(self):
        try:
            return self.world
        except (OSError, ValueError):
            return {}

    def _start_nodes(self):
        ptys = self.world["node_ptys"]
        cmd = [str(self.exe)]
        if self.heapsize:
            cmd += ["-X", "heapsize=%s" % self.heapsize]
        cmd.append(str(self.firmware_dir / self.script))
        for nid, nj, log_path in zip(self.node_ids, self.node_jsons, self.node_logs):
            env = dict(os.environ)
            env.update(self.env)
            env["MICROPYPATH"] = self.micropython_path()
            env["MYOSTRIDE_SIM_NODE"] = str(nj)
            env["MICROPYBTUART"] = ptys[str(nid)]
            log = open(log_path, "ab")
            self._files.append(log)
            self.nodes.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(nj.parent),
                                               preexec_fn=_child_setup()))

    def running(self):
        return (self.link is not None and self.link.poll() is None, [p.poll() is None for p in self.nodes])

    def exit_codes(self):
        return [p.poll() for p in self.nodes]

    def wait(self, timeout_s=None):
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for p in self.nodes:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                p.wait(left)
            except subprocess.TimeoutExpired:
                return False
        return True

    def cpu_seconds(self):
        """{"air": link process s, "nodes": [s, ...]} (live processes only; "air" for World compatibility)."""
        return {
            "air": _cpu_s(self.link.pid) if self.link is not None and self.link.poll() is None else None,
            "nodes": [_cpu_s(p.pid) if p.poll() is None else None for p in self.nodes],
        }

    def stop(self, grace_s=3.0):
        """Terminate the nodes, then the link; kill whatever ignores SIGTERM. Idempotent."""
        procs = [p for p in self.nodes if p.poll() is None]
        if self.link is not None and self.cpu_at_stop is None:
            self.cpu_at_stop = self.cpu_seconds()
        for p in procs:
            p.terminate()
        _reap(procs, grace_s)
        if self.link is not None and self.link.poll() is None:
            self.link.terminate()
            _reap([self.link], grace_s)
        for f in self._files:
            f.close()
        self._files = []
        _LIVE.discard(self)

    def link_stats(self):
        p = self.world_json.parent / "link_stats.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def faults(self):
        if not self.faults_path.exists():
            return []
        return [json.loads(line) for line in self.faults_path.read_text().splitlines() if line.strip()]


def _reap(procs, grace_s):
    deadline = time.monotonic() + grace_s
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _interrupt(*_):
    raise KeyboardInterrupt


def main(argv=None):
    """`python3 -m myosim.realstack.world --nodes 4 --seconds 120 --out DIR`: a real-stack world of
    simulated walking for `myostride scan/record --backend bumble --world DIR/sim/world.json`."""
    import argparse
    import signal

    from myosim import nodefiles
    from myosim.scenario import build_scenario, write_truth

    ap = argparse.ArgumentParser(prog="python3 -m myosim.realstack.world", description=main.__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=120.0, help="how long the world runs (then it stops)")
    ap.add_argument("--out", required=True, help="folder for the node files, world.json and truth.json")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--condition", default="normal")
    ap.add_argument("--loss", type=float, default=0.0, help="notification loss in %% (bursty)")
    ap.add_argument("--centrals", type=int, default=1, help="central controllers (dongles) the host can open")
    a = ap.parse_args(argv)
    out = Path(a.out).resolve()
    try:
        sc = build_scenario(out / "sim", nodes=a.nodes, condition=a.condition, seconds=a.seconds, seed=a.seed)
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    nodefiles.write_world(sc.world_path, out / "sim" / "air.sock", out / "sim" / "host.sock", a.seconds)
    w = RealWorld(sc.node_jsons, sc.world_path, {"loss_pct": a.loss, "seed": a.seed}, centrals=a.centrals)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as Ctrl-C does: nodes and link reaped
    try:
        w.start()
    except WorldError as e:
        print(str(e), file=sys.stderr)
        return 2
    try:
        print("real-stack world: %d node(s) on NimBLE for %g s" % (a.nodes, a.seconds))
        print("  myostride scan --backend bumble --world %s" % sc.world_path)
        print("  (or --hci %s)" % " --hci ".join(w.hci), flush=True)
        w.wait(a.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        w.stop()
        write_truth(sc, w.faults(), w.radio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
