"""Every firmware file compiles with mpy-cross for ESP32 (viper needs -march=xtensawin)
and for nRF52840/STM32 (armv7emsp); the shared codec it imports too."""

import pytest

from upyharness import ROOT, mpy_cross

FILES = sorted(p for p in (ROOT / "firmware").rglob("*.py") if "tools" not in p.parts)
SHARED = [ROOT / "protocol" / "myowire" / "codec.py", ROOT / "protocol" / "myowire" / "gatt.py"]


@pytest.mark.parametrize("march", ["xtensawin", "armv7emsp"])
def test_firmware_compiles(tmp_path, march):
    assert len(FILES) >= 15, FILES
    bad = []
    for src in FILES + SHARED:
        p = mpy_cross(src, march=march, out=tmp_path / (src.stem + ".mpy"))
        if p.returncode != 0:
            bad.append("%s: %s" % (src.relative_to(ROOT), (p.stderr or p.stdout).strip()))
    assert not bad, "\n".join(bad)


def test_only_the_board_layer_imports_machine():
    users = sorted(p.relative_to(ROOT / "firmware").as_posix() for p in FILES if "import machine" in p.read_text())
    assert users == ["board_ref.py"], users
