"""A job's identity: same input bytes on disk, same settings, same tool version -> same key.

Inputs are identified by their files' sizes and modification times (a session folder by all its
files), not by hashing their contents: cheap on an archive of thousands of trials, and any rewrite
of a file changes its mtime.
"""

import hashlib
import json
import os

from .. import __version__
from ..analysis.pipeline import SCHEMA


def _stat_items(path):
    if os.path.isdir(path):
        for folder, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(folder, name)
                st = os.stat(full)
                yield os.path.relpath(full, path), st.st_size, st.st_mtime_ns
    else:
        st = os.stat(path)
        yield "", st.st_size, st.st_mtime_ns


def job_key(job, settings):
    """Hex key naming the job's part files; missing inputs still get a key (their failure is recorded)."""
    h = hashlib.sha256()
    h.update(json.dumps({"job": job, "settings": settings, "tool": __version__, "schema": SCHEMA},
                        sort_keys=True, default=str).encode())
    try:
        for item in _stat_items(job["path"]):
            h.update(repr(item).encode())
    except OSError as exc:
        h.update(("missing:%s" % exc.errno).encode())
    if job.get("events"):
        try:
            h.update(repr(next(_stat_items(job["events"]))).encode())
        except OSError:
            h.update(b"events-missing")
    return h.hexdigest()[:24]
