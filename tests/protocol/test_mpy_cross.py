"""Every file the node runs must compile with mpy-cross for the MCU architectures.

Globbed at test time: protocol/myowire/*.py and firmware/**/*.py (not
firmware/tools/, which runs on the host). xtensawin is the ESP32-S3 of the
reference board, armv7emsp the nRF52840/STM32 alternative; viper and native
code only compile with an architecture given.
"""


import pytest

from upyharness import ROOT, mpy_cross

ARCHES = ("xtensawin", "armv7emsp")


def node_sources():
    files = sorted((ROOT / "protocol" / "myowire").glob("*.py"))
    fw = ROOT / "firmware"
    if fw.is_dir():
        files += sorted(p for p in fw.rglob("*.py") if "tools" not in p.relative_to(fw).parts[:1])
    return files


def test_shared_codec_is_in_the_list():
    names = {p.relative_to(ROOT).as_posix() for p in node_sources()}
    assert {"protocol/myowire/codec.py", "protocol/myowire/gatt.py", "protocol/myowire/__init__.py"} <= names


@pytest.mark.parametrize("arch", ARCHES)
def test_node_sources_compile(arch, tmp_path):
    failures = []
    for src in node_sources():
        out = tmp_path / (src.stem + ".mpy")
        proc = mpy_cross(src, march=arch, out=out)
        if proc.returncode != 0 or not out.is_file():
            failures.append("%s: %s" % (src.relative_to(ROOT), (proc.stderr or proc.stdout).strip()))
    assert not failures, "mpy-cross -march=%s failed:\n%s" % (arch, "\n".join(failures))


def test_compile_failure_is_reported(tmp_path):
    """The check can fail: CPython-only syntax is rejected with the compiler's message."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x: int) -> int:\n    match x:\n        case 1:\n            return 2\n")
    proc = mpy_cross(bad, march="xtensawin", out=tmp_path / "bad.mpy")
    assert proc.returncode != 0 and "SyntaxError" in (proc.stderr + proc.stdout)
