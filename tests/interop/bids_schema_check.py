"""Check a BIDS dataset against the official BIDS schema (bidsschematools), offline.

bidsschematools' own validator checks file names and folders. The schema also states which
sidecar fields are required for EMG, each field's type/enum, and each TSV column's rules; this
module applies those rules (read from the schema, nothing hand-listed) to every EMG sidecar,
channels.tsv, events.tsv and dataset_description.json. Returns a list of problems (empty = valid).
"""

import csv
import json
import re
from pathlib import Path

import jsonschema
from bidsschematools import schema as bst_schema
from bidsschematools.validator import validate_bids

_SCHEMA = None


def load():
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = bst_schema.load_schema()
    return _SCHEMA


def _value_schema(obj):
    return {k: v for k, v in obj.items() if k not in ("name", "display_name", "description", "unit", "format")}


def _check_value(s, key, value, where, problems):
    if key not in s.objects.metadata:
        return
    spec = _value_schema(s.objects.metadata[key].to_dict())
    try:
        jsonschema.validate(value, spec)
    except jsonschema.ValidationError as exc:
        problems.append("%s: %s=%r: %s" % (where, key, value, exc.message))


def _applies(group, data):
    """Sidecar rules with a condition on another field (sidecar.X == "V") apply only when it holds."""
    for sel in group.get("selectors") or []:
        m = re.match(r'(?:sidecar|json)\.(\w+) == "(.*)"$', sel)
        if m and data.get(m.group(1)) != m.group(2):
            return False
    return True


def _level(v):
    return v if isinstance(v, str) else v.get("level")


def check_dataset(root):
    s = load()
    root = Path(root)
    problems = []
    result = validate_bids(str(root), bids_version=s.bids_version)
    problems += ["not a BIDS path: %s" % p for p in result["path_tracking"]]
    desc = json.loads((root / "dataset_description.json").read_text())
    for key, lvl in s.rules.json.dataset.dataset_description["fields"].items():
        if True:
            if _level(lvl) == "required" and key not in desc:
                problems.append("dataset_description.json lacks %s" % key)
    for key, value in desc.items():
        _check_value(s, key, value, "dataset_description.json", problems)
    for sidecar in root.rglob("*_emg.json"):
        data = json.loads(sidecar.read_text())
        for group in s.rules.sidecars.emg.values():
            for key, lvl in group["fields"].items():
                if _level(lvl) == "required" and key not in data and _applies(group, data):
                    problems.append("%s lacks required %s" % (sidecar.name, key))
        for key, value in data.items():
            _check_value(s, key, value, sidecar.name, problems)
        stem = sidecar.name[: -len("_emg.json")]
        if not (sidecar.parent / (stem + "_emg.bdf")).exists() and not (sidecar.parent / (stem + "_emg.edf")).exists():
            problems.append("%s has no data file" % sidecar.name)
    rule = s.rules.tabular_data.emg.EMGChannels
    for tsv in root.rglob("*_channels.tsv"):
        problems += _check_tsv(s, tsv, rule)
    ev_rule = s.rules.tabular_data.events.Events
    for tsv in root.rglob("*_events.tsv"):
        problems += _check_tsv(s, tsv, ev_rule)
    return problems


def _check_tsv(s, path, rule):
    problems = []
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header, body = rows[0], rows[1:]
    initial = list(rule.get("initial_columns") or [])
    names = [c.split("__")[0] for c in initial]
    if header[: len(names)] != [s.objects.columns[c]["name"] for c in initial]:
        problems.append("%s: first columns %s, schema wants %s" % (path.name, header[: len(names)], names))
    known = {}
    for col, lvl in rule["columns"].items():
        name = s.objects.columns[col]["name"]
        known[name] = col
        if _level(lvl) == "required" and name not in header:
            problems.append("%s lacks required column %s" % (path.name, name))
    if rule.get("additional_columns") == "not_allowed":
        problems += ["%s: column %s not allowed" % (path.name, h) for h in header if h not in known]
    for row in body:
        if len(row) != len(header):
            problems.append("%s: a row has %d cells for %d columns" % (path.name, len(row), len(header)))
            continue
        for name, cell in zip(header, row):
            if name not in known or cell == "n/a":
                continue
            spec = _value_schema(s.objects.columns[known[name]].to_dict())
            value = cell
            if spec.get("type") == "number" or "anyOf" in spec:
                try:
                    value = float(cell)
                except ValueError:
                    value = cell
            try:
                jsonschema.validate(value, spec)
            except jsonschema.ValidationError as exc:
                problems.append("%s: %s=%r: %s" % (path.name, name, cell, exc.message))
    return problems
