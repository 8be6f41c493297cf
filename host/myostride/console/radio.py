"""The console's radio side: the backend, a simulated patient, scan, identify, pre-trial check.

Scan and identify run in the server's event loop through the same functions as
`myostride scan` / `myostride node identify`; the pre-trial check runs the
`myostride check` command itself in a child process (it records a few seconds and
needs its own event loop), and the page shows its check.json.
"""

import asyncio
import json
import sys
from pathlib import Path

from ..errors import UserError

CHECK_BOUND_S = 300.0  # scan 8 s + connect + self-test + 5 s recording + drain, with room for a busy machine
IDENTIFY_S = 5


class ConsoleBackend:
    """The console's handle on the one backend object (acquire.backends), plus its simulated patient.

    Resolved once from --backend/--world/--hci; re-resolved only when the page starts a
    simulated patient (the world file is then known).
    """

    def __init__(self, backend, world=None, hci=None):
        self.backend = backend
        self.name = backend.name
        self.simulated = bool(backend.simulated)
        self.hci = hci
        self.world = str(world) if world else None
        if self.simulated and self.world is None and Path(backend.device_kwargs().get("world", "")).is_file():
            self.world = backend.device_kwargs()["world"]  # a `myostride sim` published its world
        self.sim = None  # SimPatient the console started

    def set_world(self, world):
        from ..acquire.backends import resolve_backend

        self.world = str(world)
        self.backend = resolve_backend(self.name, world=self.world)

    def cli_args(self):
        """--backend/--world/--hci for the CLI commands the console runs as children."""
        return (["--backend", self.name] + (["--world", self.world] if self.world else [])
                + (["--hci", self.hci] if self.hci else []))

    def spec(self):
        """How a child process resolves the same backend."""
        return {"backend": self.name, "world": self.world, "hci": self.hci}

    def clock_us(self):
        return self.backend.host_clock_us()


class SimPatient:
    """A simulated patient wearing N real-firmware nodes, started by the console (training, demos, tests)."""

    def __init__(self, folder, nodes=4, condition="normal", seconds=900.0, seed=1, loss_pct=2.0):
        self.folder = Path(folder)
        self.nodes, self.condition, self.seconds, self.seed, self.loss_pct = nodes, condition, seconds, seed, loss_pct
        self.world = None
        self.scenario = None

    def start(self):
        from myosim import nodefiles
        from myosim.scenario import build_scenario
        from myosim.world import World, WorldError

        from myosim.scenario import DEFAULT_LAYOUT

        from ..commands.sim import socket_paths

        self.folder.mkdir(parents=True, exist_ok=True)
        # Both legs from the first nodes on (left 1-6, right 7-12 as in the simulator's layout),
        # so even a 4-node patient shows left beside right.
        left = [x for x in DEFAULT_LAYOUT if x[1] == "left"]
        right = [x for x in DEFAULT_LAYOUT if x[1] == "right"]
        n_right = self.nodes // 2
        layout = left[: self.nodes - n_right] + right[:n_right]
        try:
            self.scenario = build_scenario(self.folder, nodes=self.nodes, condition=self.condition,
                                           seconds=self.seconds, seed=self.seed, layout=layout)
        except ValueError as exc:
            raise UserError("cannot simulate that patient: %s" % exc) from None
        air, host = socket_paths(self.folder)
        nodefiles.write_world(self.scenario.world_path, air, host, self.seconds, speed=1.0)
        self.world = World(self.scenario.node_jsons, self.scenario.world_path, {"seed": self.seed, "loss_pct": self.loss_pct})
        try:
            self.world.start()
        except WorldError as exc:
            raise UserError("could not start the simulated nodes: %s" % exc) from None
        return str(self.scenario.world_path)

    def describe(self):
        layout = self.scenario.truth["nodes"] if self.scenario else []
        return {"nodes": self.nodes, "condition": self.condition, "seed": self.seed,
                "layout": [{k: n[k] for k in ("node_id", "side", "muscle")} for n in layout]}

    def stop(self):
        if self.world is not None:
            self.world.stop()
            self.world = None


async def scan_nodes(backend, seconds=3.0):
    """[{node_id, name, battery_pct, rssi_dbm, firmware}] of the nodes advertising (as `myostride scan`)."""
    from ..acquire.scanner import scan

    found = await scan(seconds, backend.backend)
    return [found[k].to_json() for k in sorted(found)]


async def identify_node(backend, node_id, seconds=IDENTIFY_S):
    """Blink node_id's LED for `seconds`, exactly as `myostride node identify` does."""
    from myowire import codec

    from ..bringup.nodecmd import ble_command, open_link

    link = await open_link(node_id, backend.backend)
    try:
        await ble_command(link, codec.C_IDENTIFY, bytes([seconds]))
    finally:
        await link.disconnect()
    return {"node_id": node_id, "seconds": seconds}


async def run_check(backend, mapping, out_dir, seconds=5.0):
    """`myostride check` in a child process; returns its check.json (dict). Bounded by CHECK_BOUND_S."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "myostride", "check", "--seconds", "%g" % seconds, "--out", str(out_dir)]
    cmd += backend.cli_args()
    for m in mapping:
        cmd += ["--map", m]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(CHECK_BOUND_S):
            _out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise UserError("the pre-trial check did not finish in %.0f s; check the nodes are on and in range, then run it again"
                        % CHECK_BOUND_S) from None
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode == 2:
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        raise UserError(lines[-1].split("error: ", 1)[-1] if lines else "the pre-trial check refused its input")
    try:
        return json.loads((out_dir / "check.json").read_text())
    except (OSError, ValueError):
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        raise UserError("the pre-trial check wrote no result (%s); run it again" % (lines[-1] if lines else "no message")) from None
