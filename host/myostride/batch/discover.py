"""Find what to analyse: C3D files and session folders under a root, by glob, or from a manifest.

A job is a plain dict (it travels to Dask workers): `path`, `maps` (list of LABEL=SIDE:MUSCLE),
`side`, `units`, `events` (an events CSV or None). Command-line options give the defaults; a CSV
manifest row can set its own.
"""

import csv
import glob
import os

from ..errors import UserError

SESSION_MARKER = "session.json"
MANIFEST_COLUMNS = ("path", "map", "side", "emg_units", "events")


def make_job(path, maps=(), side=None, units=None, events=None):
    return {"path": os.path.abspath(path), "maps": list(maps), "side": side or None,
            "units": units or None, "events": os.path.abspath(events) if events else None}


def is_session_dir(path):
    return os.path.isfile(os.path.join(path, SESSION_MARKER))


def walk_root(root):
    """Every session folder and .c3d file under root, in a stable order (sessions are not descended into)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        if is_session_dir(folder):
            found.append(folder)
            dirs[:] = []
            continue
        found.extend(os.path.join(folder, f) for f in sorted(files) if f.lower().endswith(".c3d"))
    return found


def from_globs(root, patterns):
    """Paths matching any of the glob patterns (relative to root, `**` allowed), files or session folders."""
    found = []
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
            if os.path.isfile(path) or is_session_dir(path):
                found.append(path)
    return list(dict.fromkeys(found))


def from_manifest(manifest_path, defaults):
    """Jobs from a CSV with a `path` column and optional `map` (entries separated by ';'), `side`,
    `emg_units`, `events`; relative paths are relative to the manifest's folder."""
    if not os.path.isfile(manifest_path):
        raise UserError("no such manifest: %s; give a CSV file with a 'path' column" % manifest_path)
    base = os.path.dirname(os.path.abspath(manifest_path))
    with open(manifest_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if "path" not in columns:
            raise UserError("manifest %s has no 'path' column; its first line must name the columns (%s)"
                            % (manifest_path, ", ".join(MANIFEST_COLUMNS)))
        unknown = [c for c in columns if c not in MANIFEST_COLUMNS]
        if unknown:
            raise UserError("manifest %s: unknown column(s) %s; the columns are %s"
                            % (manifest_path, ", ".join(unknown), ", ".join(MANIFEST_COLUMNS)))
        jobs = []
        for n, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if not row.get("path"):
                raise UserError("manifest %s line %d: empty path" % (manifest_path, n))

            def rel(p):
                return p if os.path.isabs(p) else os.path.join(base, p)

            maps = [m.strip() for m in row.get("map", "").split(";") if m.strip()] or defaults["maps"]
            jobs.append(make_job(rel(row["path"]), maps, row.get("side") or defaults["side"],
                                 row.get("emg_units") or defaults["units"],
                                 rel(row["events"]) if row.get("events") else defaults["events"]))
    return jobs


def discover(root, patterns=(), manifest=None, maps=(), side=None, units=None, events=None):
    """The job list for `myostride batch`."""
    defaults = {"maps": list(maps), "side": side, "units": units, "events": events}
    if manifest:
        return from_manifest(manifest, defaults)
    if not os.path.isdir(root):
        raise UserError("no such folder: %s; give the archive's root folder (or --manifest FILE.csv)" % root)
    paths = from_globs(root, patterns) if patterns else walk_root(root)
    return [make_job(p, maps, side, units, events) for p in paths]
