"""A study on disk, in the same files the CLI reads and writes.

    DATA/studies/<study id>/
        clinical.json          the study's clinical file (docs/clinical-input.md; `myostride report --clinical`)
        study.json             console bookkeeping: node map, checks, trials, notes (no samples)
        checks/check-NN/       `myostride check --out` folders (check.json + check-session/)
        trials/trial-NN/       session directories (`myostride record --out`: raw.log, session.json)
        reports/trial-NN/      `myostride report` outputs (analysis.json, summary.json, report.html, report.pdf)

The study id is random: the patient's pseudonymous id lives in clinical.json only, never in
a URL or a log line. Writes go to a temporary file then rename, so a crash leaves the old file.
"""

import datetime
import json
import os
import secrets
from pathlib import Path

from ..study.clinical import validate_clinical
from ..errors import UserError

STUDY_SCHEMA = "myostride.console-study/1"


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json_atomic(path, data):
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


class Study:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.id = self.folder.name

    @property
    def clinical_path(self):
        return self.folder / "clinical.json"

    def state(self):
        try:
            return json.loads((self.folder / "study.json").read_text())
        except (OSError, ValueError):
            return {"schema": STUDY_SCHEMA, "id": self.id, "mapping": [], "checks": [], "trials": []}

    def save_state(self, state):
        write_json_atomic(self.folder / "study.json", state)

    def clinical(self):
        try:
            return json.loads(self.clinical_path.read_text())
        except (OSError, ValueError):
            return {}

    def save_clinical(self, data):
        """Validate exactly as `myostride report --clinical` does; store it only when valid."""
        problems = validate_clinical(data)
        if problems:
            return problems
        write_json_atomic(self.clinical_path, data)
        return []

    def set_interpretation(self, text, by=None):
        data = self.clinical()
        if text and text.strip():
            data["interpretation"] = text
        else:
            data.pop("interpretation", None)
        if by:
            data["interpreted_by"] = {k: v for k, v in by.items() if v}
        return self.save_clinical(data)

    def _next(self, sub, prefix):
        d = self.folder / sub
        d.mkdir(parents=True, exist_ok=True)
        n = 1 + max([int(p.name.rsplit("-", 1)[1]) for p in d.iterdir() if p.name.startswith(prefix + "-")
                     and p.name.rsplit("-", 1)[1].isdigit()] or [0])
        return d / ("%s-%02d" % (prefix, n))

    def next_check_dir(self):
        return self._next("checks", "check")

    def next_trial_dir(self):
        return self._next("trials", "trial")

    def trial_dir(self, trial_id):
        return self._child("trials", trial_id)

    def report_dir(self, trial_id):
        return self.folder / "reports" / self.trial_dir(trial_id).name

    def _child(self, sub, name):
        if not name or "/" in name or name.startswith("."):
            raise UserError("no such %s %r" % (sub[:-1], name))
        p = self.folder / sub / name
        if not p.is_dir():
            raise UserError("no %s %r in this study; pick one from the list" % (sub[:-1], name))
        return p

    def summary(self):
        c = self.clinical()
        st = self.state()
        return {"id": self.id, "created_utc": st.get("created_utc"), "patient_id": (c.get("patient") or {}).get("id"),
                "date_of_service": c.get("date_of_service"), "trials": len(st.get("trials", []))}


class StudyStore:
    def __init__(self, data_dir):
        self.root = Path(data_dir) / "studies"
        self.root.mkdir(parents=True, exist_ok=True)

    def create(self, clinical):
        problems = validate_clinical(clinical)
        if problems:
            return None, problems
        sid = "study-%s-%s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S"), secrets.token_hex(3))
        study = Study(self.root / sid)
        study.folder.mkdir(parents=True)
        study.save_clinical(clinical)
        study.save_state({"schema": STUDY_SCHEMA, "id": sid, "created_utc": _utc_now(), "mapping": [], "checks": [],
                          "trials": []})
        return study, []

    def get(self, sid):
        if not sid or "/" in sid or sid.startswith(".") or not (self.root / sid / "study.json").exists():
            raise UserError("no study %r here; create one on the Study page" % sid)
        return Study(self.root / sid)

    def list(self):
        return [Study(p).summary() for p in sorted(self.root.iterdir()) if (p / "study.json").exists()]
