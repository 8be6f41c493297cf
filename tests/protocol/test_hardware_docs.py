"""The hardware documents stay consistent with the code they describe:
every muscle has a citable placement section, links resolve, and the pin map
table matches the board file the firmware reads."""

import json
import re
from pathlib import Path

import pytest

from myostride.muscles import MUSCLES

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hardware"
DOCS = ("README.md", "BOM.md", "block-diagram.md", "power-and-safety.md", "electrode-placement.md")


def anchors(text):
    """GitHub-style anchors of a markdown file's headings."""
    out = set()
    for h in re.findall(r"^#+ (.+)$", text, flags=re.M):
        a = re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        out.add(a)
    return out


def test_every_muscle_has_a_placement_section():
    text = (HW / "electrode-placement.md").read_text()
    have = anchors(text)
    missing = [m for m in MUSCLES if m.replace("_", "-") not in have]
    assert not missing, "no section for %s in hardware/electrode-placement.md" % missing
    for m in MUSCLES:
        body = text.split("### " + m.replace("_", " ").capitalize(), 1)[1].split("\n### ", 1)[0]
        for item in ("**Location:**", "**Orientation:**", "**SENIAM:**"):
            assert item in body, "%s lacks %s" % (m, item)
    assert "10 mm" in text and "20 mm" in text


@pytest.mark.parametrize("name", DOCS)
def test_relative_links_resolve(name):
    text = (HW / name).read_text()
    for target in re.findall(r"\]\(([^)]+)\)", text):
        if target.startswith("http"):
            continue
        path, _, anchor = target.partition("#")
        doc = (HW / path) if path else (HW / name)
        assert doc.exists(), "%s links to missing %s" % (name, target)
        if anchor:
            assert anchor in anchors(doc.read_text()), "%s links to missing anchor %s" % (name, target)


PIN_ROWS = {
    "SPI SCK": ("emg", "spi", "sck"),
    "SPI MOSI": ("emg", "spi", "mosi"),
    "SPI MISO": ("emg", "spi", "miso"),
    "AFE chip select": ("emg", "cs"),
    "AFE data ready": ("emg", "drdy"),
    "AFE START": ("emg", "start"),
    "AFE RESET / power-down": ("emg", "reset"),
    "I2C SCL": ("imu", "i2c", "scl"),
    "I2C SDA": ("imu", "i2c", "sda"),
    "battery sense": ("battery", "adc_pin"),
    "status LED": ("led", "pin"),
    "user button": ("button", "pin"),
}


def test_pin_map_matches_board_file():
    board = json.loads((HW / "boards" / "myostride-ref-s3.json").read_text())
    text = (HW / "block-diagram.md").read_text()
    rows = dict(re.findall(r"^\| ([^|]+?) \| (\d+) \|", text, flags=re.M))
    for signal, path in PIN_ROWS.items():
        v = board
        for k in path:
            v = v[k]
        assert int(rows[signal]) == v, "block-diagram.md pin map: %s is GPIO %s, board file says %s" % (signal, rows[signal], v)
    fs = board["footswitch"]["pins"]
    assert (int(rows["footswitch 1 (heel)"]), int(rows["footswitch 2 (forefoot)"])) == tuple(fs)
    assert "address 0x%02X = %d" % (board["imu"]["address"], board["imu"]["address"]) in text
