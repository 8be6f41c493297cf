"""Build the MicroPython unix port with the real NimBLE `bluetooth` module, cached by source hash.

Why: the firmware must also run on the Bluetooth stack ESP32 boards run (NimBLE
inside MicroPython), not only on our emulation (simulators/upy/bluetooth.py).
The unix port speaks HCI over a UART, which on Linux can be a pty to a Bumble
controller (`MICROPYBTUART`, see world.py).

    python3 -m myosim.realstack.build                  # from ../shared/vendor's tarball
    python3 -m myosim.realstack.build --src ~/micropython   # a v1.28.0 checkout + lib/mynewt-nimble

The binary lands in $MYOSTRIDE_NIMBLE_CACHE (default $XDG_CACHE_HOME/myostride or
~/.cache/myostride) under nimble-<source sha256 prefix>/micropython, so a rebuild
happens only when the source changes. Concurrent callers (xdist workers) share one
build through a file lock.
"""

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TARBALL = ROOT.parent / "shared" / "vendor" / "micropython-1.28.0-nimble-src.tar.gz"
MAKE_VARS = (
    "MICROPY_PY_BLUETOOTH=1",
    "MICROPY_BLUETOOTH_NIMBLE=1",
    "MICROPY_PY_BTREE=0",
    "MICROPY_PY_SSL=0",
    "MICROPY_SSL_MBEDTLS=0",
    "FROZEN_MANIFEST=",
)
# Subtrees of a checkout that go into the unix NimBLE build (hashed for the cache key).
_HASHED_DIRS = ("py", "extmod", "shared", "ports/unix", "lib/mynewt-nimble/nimble", "lib/mynewt-nimble/porting", "lib/mynewt-nimble/ext")
_BUILD_TIMEOUT_S = 900
_CHECK_TIMEOUT_S = 20


class BuildError(Exception):
    """The NimBLE binary cannot be built here; str() is one line per missing thing."""


class SourceMissing(BuildError):
    """No source tree or tarball: tests skip on this one only."""


def cache_root():
    env = os.environ.get("MYOSTRIDE_NIMBLE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "myostride"


def _is_checkout(p):
    return (p / "ports" / "unix" / "Makefile").is_file() and (p / "lib" / "mynewt-nimble" / "nimble" / "host").is_dir()


def find_source(src=None):
    """The source to build from (tarball or checkout directory); SourceMissing if absent."""
    p = Path(src).expanduser() if src else DEFAULT_TARBALL
    if not p.exists():
        if src:
            raise SourceMissing("source: %s does not exist (give a MicroPython v1.28.0 checkout or the nimble-src tarball)" % p)
        raise SourceMissing(
            "source: no %s; pass --src with a MicroPython v1.28.0 checkout that has lib/mynewt-nimble "
            "(git submodule update --init lib/mynewt-nimble)" % p
        )
    if p.is_dir():
        if not _is_checkout(p):
            what = "lib/mynewt-nimble is empty (git submodule update --init lib/mynewt-nimble)" if (p / "ports" / "unix").is_dir() else "not a MicroPython checkout (no ports/unix/Makefile)"
            raise SourceMissing("source: %s: %s" % (p, what))
    elif not tarfile.is_tarfile(p):
        raise SourceMissing("source: %s is neither a directory nor a tar archive" % p)
    return p


def source_hash(src):
    """sha256 of the tarball, or of the hashed subtrees' files (path + bytes) of a checkout."""
    h = hashlib.sha256()
    if src.is_file():
        with open(src, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    for sub in _HASHED_DIRS:
        base = src / sub
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("build") and d != ".git")
            for name in sorted(filenames):
                fp = Path(dirpath) / name
                h.update(str(fp.relative_to(src)).encode() + b"\0")
                h.update(fp.read_bytes())
    return h.hexdigest()


def missing_tools():
    """One line per build prerequisite that is absent (compiler, make, libffi)."""
    out = []
    cc = os.environ.get("CC") or "gcc"
    if shutil.which(cc) is None and shutil.which("cc") is None:
        out.append("compiler: no C compiler (%s or cc) on PATH; Debian: apt-get install -y build-essential" % cc)
    if shutil.which("make") is None:
        out.append("make: not on PATH; Debian: apt-get install -y build-essential")
    if not _have_libffi():
        out.append("libffi: no libffi development files (ffi.h / pkg-config libffi); Debian: apt-get install -y libffi-dev pkg-config")
    return out


def _have_libffi():
    if shutil.which("pkg-config"):
        r = subprocess.run(["pkg-config", "--exists", "libffi"], capture_output=True)
        if r.returncode == 0:
            return True
        return False  # the Makefile asks pkg-config; without its answer the build fails
    return False


def binary_path(sha):
    return cache_root() / ("nimble-%s" % sha[:16]) / "micropython"


def check_binary(exe):
    """Run `import bluetooth` in the binary; '' if it works, else the error text."""
    code = "import bluetooth\nb = bluetooth.BLE\nprint('ok', hasattr(b, 'gatts_notify'))"
    try:
        r = subprocess.run([str(exe), "-c", code], capture_output=True, text=True, timeout=_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "could not run %s: %s" % (exe, e)
    if r.returncode != 0 or "ok True" not in r.stdout:
        return "%s has no working bluetooth module: %s" % (exe, (r.stderr or r.stdout).strip()[-300:])
    return ""


def cached_binary(src=None):
    """Path of the cached binary for this source if it is already built (no build), else None."""
    p = binary_path(source_hash(find_source(src)))
    return p if p.is_file() else None


def ensure_binary(src=None, jobs=None, log=None):
    """The NimBLE micropython binary for `src`, building it once; raises BuildError/SourceMissing."""
    source = find_source(src)
    sha = source_hash(source)
    exe = binary_path(sha)
    if exe.is_file() and not check_binary(exe):
        return exe
    exe.parent.mkdir(parents=True, exist_ok=True)
    with open(exe.parent / "build.lock", "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)  # another process may be building the same source
        if exe.is_file() and not check_binary(exe):
            return exe
        missing = missing_tools()
        if missing:
            raise BuildError("cannot build the NimBLE MicroPython:\n" + "\n".join(missing))
        _build(source, exe, jobs or min(2, os.cpu_count() or 1), log)
    err = check_binary(exe)
    if err:
        exe.unlink()
        raise BuildError("the build finished but " + err)
    return exe


def _build(source, exe, jobs, log):
    say = log or (lambda msg: print(msg, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="build-", dir=exe.parent) as tmp:
        if source.is_file():
            say("unpacking %s" % source)
            with tarfile.open(source) as tf:
                tf.extractall(tmp, filter="data")
            tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
            tree = tops[0] if len(tops) == 1 else Path(tmp)
            if not _is_checkout(tree):
                raise BuildError("source: %s does not unpack to a MicroPython tree with lib/mynewt-nimble" % source)
            build_dir = tree / "ports" / "unix" / "build-standard"
        else:
            tree = source
            build_dir = Path(tmp) / "build"  # never write into the user's checkout
        cmd = ["make", "-C", str(tree / "ports" / "unix"), "-j%d" % jobs, *MAKE_VARS, "BUILD=%s" % build_dir]
        say("building NimBLE MicroPython (about 20-90 s): %s" % " ".join(cmd))
        logf = exe.parent / "build.log"
        with open(logf, "w") as lf:
            try:
                r = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, timeout=_BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise BuildError("the build did not finish within %d s; see %s" % (_BUILD_TIMEOUT_S, logf)) from None
        if r.returncode != 0:
            tail = logf.read_text(errors="replace").strip().splitlines()[-5:]
            raise BuildError("make failed (exit %d); see %s:\n%s" % (r.returncode, logf, "\n".join(tail)))
        built = build_dir / "micropython"
        tmp_exe = exe.with_suffix(".tmp")
        shutil.copy2(built, tmp_exe)
        os.replace(tmp_exe, exe)  # atomic: a reader sees no binary or the whole one


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m myosim.realstack.build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", help="MicroPython v1.28.0 checkout with lib/mynewt-nimble, or the nimble-src tarball (default: %s)" % DEFAULT_TARBALL)
    ap.add_argument("-j", "--jobs", type=int, default=None, help="parallel make jobs (default: up to 2)")
    ap.add_argument("--print-path", action="store_true", help="only print the binary's path (build if needed)")
    args = ap.parse_args(argv)
    try:
        exe = ensure_binary(args.src, args.jobs, log=None if not args.print_path else (lambda m: None))
    except BuildError as e:
        print(str(e), file=sys.stderr)
        return 2
    print(exe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
