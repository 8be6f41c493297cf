"""Shared set-up for the bring-up tests: virtual boards, firmware copies, a simulated air."""

import asyncio
import contextlib
import hashlib
import io
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
UPY_SIM = ROOT / "simulators" / "upy"


def cli(*argv):
    """Run the `myostride` CLI entry point (cli.main, in this process): (exit code, stdout, stderr)."""
    from myostride.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse: --help, usage errors
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def firmware_copy(dest, version):
    """A copy of the real firmware with another FIRMWARE_VERSION (an 'update' to flash);
    every module gets a build constant so that every compiled file changes, as in a real update."""
    shutil.copytree(FIRMWARE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for p in Path(dest).rglob("*.py"):
        if p.name != "main.py":
            p.write_text(p.read_text() + "\n_TEST_BUILD = %r\n" % (tuple(version),))
    (Path(dest) / "version.py").write_text('"""Test copy."""\n\nFIRMWARE_VERSION = %r\n' % (tuple(version),))
    return Path(dest)


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sim_node(tmp, node_id=7, seconds=60):
    """A node dir whose fs/ is the devboard filesystem, plus an air-only world. Returns (world_json, node_json)."""
    from myosim import nodefiles

    wj = Path(tmp) / "world.json"
    nodefiles.write_world(wj, Path(tmp) / "air.sock", Path(tmp) / "host.sock", seconds=seconds, speed=1.0)
    rng = np.random.default_rng(node_id)
    emg = (rng.standard_normal(2000 * seconds) * 40).astype("<i2")
    nj = nodefiles.write_node_dir(Path(tmp) / ("n%02d" % node_id), node_id, emg, [[0, 0], [1000, 1_000_000_000]], wj,
                                  imu=np.zeros((104 * seconds, 6)), imu_hz=104)
    return wj, nj


def sim_env(node_json):
    """Devboard environment that makes the flashed firmware run on the simulated board and air."""
    from myostride.bringup.devboard import sim_node_env

    env, fs = sim_node_env(node_json)
    assert env["MICROPYPATH"] == ":.frozen:%s" % UPY_SIM and Path(fs) == Path(node_json).parent / "fs"
    return env


def scan_versions(world_json, seconds=2.0):
    """{advertised name: firmware [major, minor, patch]} of the nodes advertising on the air."""
    from bleak import BleakScanner
    from myosim.backend import SimScanner
    from myowire import gatt

    async def go():
        found = await BleakScanner.discover(timeout=seconds, return_adv=True, backend=SimScanner, world=str(world_json))
        out = {}
        for _dev, adv in found.values():
            for data in adv.manufacturer_data.values():
                m = gatt.parse_manufacturer(data)
                if m:
                    out[adv.local_name] = m["firmware"]
        return out

    return asyncio.run(go())
