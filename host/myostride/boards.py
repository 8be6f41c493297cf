"""Where the machine-readable board definitions (hardware/boards/<name>.json) live."""

from pathlib import Path


def boards_dir():
    """hardware/boards of a source checkout (None when installed without it)."""
    here = Path(__file__).resolve().parents[2] / "hardware" / "boards"
    return here if here.is_dir() else None


def known_boards():
    d = boards_dir()
    return sorted(p.stem for p in d.glob("*.json")) if d else []
