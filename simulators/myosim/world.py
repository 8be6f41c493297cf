"""World runner: the virtual air plus one `micropython` process per simulated node.

Why: `myostride sim`, the host's tests and the benchmarks all need the same
thing -- start the air, start N real-firmware nodes on it, and take it all
down again without leaving processes behind (also on exceptions, Ctrl-C or
the parent being killed: children get PR_SET_PDEATHSIG).

    with World(node_jsons, "run/world.json", {"seed": 1, "loss_pct": 2}) as w:
        ...  # host connects through myosim.backend
    # or: w = World(...); w.start(); w.wait(timeout_s); w.stop()

The air runs as a subprocess (`python -m myosim.air`) so it has its own core
time and GIL; node stderr/stdout go to <node dir>/node.log, the air's to
<world dir>/air.log; injected faults to <world dir>/faults.jsonl.
"""

import atexit
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from myosim import radiomodel
from myosim.nodefiles import read_world

ROOT = Path(__file__).resolve().parents[2]
UPY_DIR = ROOT / "simulators" / "upy"
PROTOCOL_DIR = ROOT / "protocol"
FIRMWARE_DIR = ROOT / "firmware"
DEFAULT_HEAPSIZE = "512k"  # 64-bit unix objects are ~2x an ESP32's; the firmware keeps >= 10 s of frames
_PR_SET_PDEATHSIG = 1
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes including the terminating NUL
_LIVE = set()


def _die_with_parent():
    """Runs in the child before exec: SIGTERM it when the parent dies (Linux).

    The kernel sends it when the *thread* that forked exits, so it is only used
    when starting from the main thread (see _child_setup)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _cpu_s(pid):
    """User + system CPU seconds of a live process (Linux /proc), or None."""
    try:
        fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _child_setup():
    return _die_with_parent if threading.current_thread() is threading.main_thread() else None


@atexit.register
def _stop_all():
    for w in list(_LIVE):
        w.stop()


class WorldError(RuntimeError):
    """The world could not start (missing file, socket path too long, the air did not come up)."""


class World:
    """Air + nodes of one simulated world. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        node_json_paths,
        world_json,
        radio_config=None,
        firmware_dir=FIRMWARE_DIR,
        script="main.py",
        heapsize=DEFAULT_HEAPSIZE,
        faults_path=None,
        extra_path=(),
        env=None,
        verbose_air=False,
    ):
        self.node_jsons = [Path(p) for p in node_json_paths]
        self.world_json = Path(world_json)
        self.radio = radiomodel.radio_config(radio_config)  # validate before starting anything
        self.firmware_dir = Path(firmware_dir)
        self.script = script
        self.heapsize = heapsize
        self.faults_path = Path(faults_path) if faults_path else self.world_json.parent / "faults.jsonl"
        self.extra_path = [Path(p) for p in extra_path]
        self.env = dict(env or {})
        self.verbose_air = verbose_air
        self.air = None
        self.nodes = []  # subprocess.Popen per node, same order as node_jsons
        self.node_logs = [Path(p).parent / "node.log" for p in self.node_jsons]
        self.air_log = self.world_json.parent / "air.log"
        self.cpu_at_stop = None
        self._files = []

    # --------------------------------------------------------- lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def world(self):
        return read_world(self.world_json)

    def micropython_path(self):
        dirs = [UPY_DIR, self.firmware_dir, PROTOCOL_DIR] + self.extra_path
        return os.pathsep.join(str(d) for d in dirs)

    def start(self, timeout_s=10.0):
        if not self.world_json.exists():
            raise WorldError("no world file at %s: write it with myosim.nodefiles.write_world" % self.world_json)
        script = self.firmware_dir / self.script
        if not script.exists():
            raise WorldError("node program %s does not exist" % script)
        missing = [str(p) for p in self.node_jsons if not p.exists()]
        if missing:
            raise WorldError("missing node.json: %s" % ", ".join(missing))
        self.faults_path.write_text("")  # this world's faults only
        _LIVE.add(self)
        try:
            self._start_air(timeout_s)
            self._start_nodes()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_air(self, timeout_s):
        world = self.world
        radio_path = self.world_json.parent / "radio.json"
        radio_path.write_text(json.dumps(self.radio, indent=1))
        log = open(self.air_log, "ab")
        self._files.append(log)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "simulators"), str(PROTOCOL_DIR), env.get("PYTHONPATH", "")])
        cmd = [sys.executable, "-m", "myosim.air", "--world", str(self.world_json), "--radio", str(radio_path), "--faults", str(self.faults_path)]
        if self.verbose_air:
            cmd.append("-v")
        for p in (world["air_socket"], world["host_socket"]):
            if len(str(p).encode()) > _SUN_PATH_MAX:
                raise WorldError(
                    "socket path %s is %d bytes; AF_UNIX allows %d: put the world in a shorter directory"
                    % (p, len(str(p).encode()), _SUN_PATH_MAX)
                )
            if os.path.exists(p):
                os.unlink(p)
        self.air = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_child_setup())
        deadline = time.monotonic() + timeout_s
        while not (os.path.exists(world["air_socket"]) and os.path.exists(world["host_socket"])):
            if self.air.poll() is not None:
                raise WorldError("the air exited at start (code %s); see %s" % (self.air.returncode, self.air_log))
            if time.monotonic() > deadline:
                raise WorldError("the air did not open its sockets within %.0f s; see %s" % (timeout_s, self.air_log))
            time.sleep(0.02)

    def _start_nodes(self):
        exe = "micropython"
        cmd = [exe]
        if self.heapsize:
            cmd += ["-X", "heapsize=%s" % self.heapsize]
        cmd.append(str(self.firmware_dir / self.script))
        for nj, log_path in zip(self.node_jsons, self.node_logs):
            env = dict(os.environ)
            env.update(self.env)
            env["MICROPYPATH"] = self.micropython_path()
            env["MYOSTRIDE_SIM_NODE"] = str(nj)
            log = open(log_path, "ab")
            self._files.append(log)
            try:
                p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(nj.parent), preexec_fn=_child_setup())
            except FileNotFoundError:
                raise WorldError("the `micropython` interpreter is not on PATH: pip install -e '.[dev]' installs it") from None
            self.nodes.append(p)

    def running(self):
        """(air alive, [node alive, ...])."""
        return (self.air is not None and self.air.poll() is None, [p.poll() is None for p in self.nodes])

    def exit_codes(self):
        return [p.poll() for p in self.nodes]

    def wait(self, timeout_s=None):
        """Wait for every node process to exit; True if they all did within timeout_s."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for p in self.nodes:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                p.wait(left)
            except subprocess.TimeoutExpired:
                return False
        return True

    def cpu_seconds(self):
        """CPU seconds used so far: {"air": s, "nodes": [s, ...]} (live processes only)."""
        return {
            "air": _cpu_s(self.air.pid) if self.air is not None and self.air.poll() is None else None,
            "nodes": [_cpu_s(p.pid) if p.poll() is None else None for p in self.nodes],
        }

    def stop(self, grace_s=3.0):
        """Terminate the nodes, then the air; kill whatever ignores SIGTERM. Idempotent."""
        procs = [p for p in self.nodes if p.poll() is None]
        if self.air is not None and self.cpu_at_stop is None:
            self.cpu_at_stop = self.cpu_seconds()
        for p in procs:
            p.terminate()
        self._reap(procs, grace_s)
        if self.air is not None and self.air.poll() is None:
            self.air.terminate()
            self._reap([self.air], grace_s)
        for f in self._files:
            f.close()
        self._files = []
        _LIVE.discard(self)

    @staticmethod
    def _reap(procs, grace_s):
        deadline = time.monotonic() + grace_s
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def faults(self):
        """Injected faults logged so far (list of dicts)."""
        if not self.faults_path.exists():
            return []
        return [json.loads(line) for line in self.faults_path.read_text().splitlines() if line.strip()]
