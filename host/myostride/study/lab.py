"""The lab profile: equipment facts a gait lab records once, for reports made from imported files.

A C3D says nothing about the EMG amplifier (CMRR, input impedance, gain, detection mode,
filters) or the electrodes, so a report from it lists those ISEK items as not recorded and the
payer checklist counts them against the documentation. A lab writes them once into a profile
(`myostride lab init`, then edit; default place $XDG_CONFIG_HOME/myostride/lab.json) and
`myostride report --lab FILE` fills the facts an imported file lacks from it, marking each one
as coming from the lab profile. A myostride session records its own hardware: the profile never
overrides or fills its node facts. Validation works like the clinical file's: every unknown key
and impossible value is named with its fix; null means "not filled in" and provides nothing.
"""

import json
import os
from pathlib import Path

from ..errors import UserError
from .clinical import _check_object, _check_value, _type_name

SCHEMA_ID = "myostride.lab/1"
KINDS = {
    "cmrr_db": (40, 200, "dB", "a CMRR in dB, e.g. 100"),
    "gain": (0.1, 1e6, "", "the amplifier's total gain (V/V), e.g. 1000"),
    "adc_bits": (8, 32, "bit", "the ADC's bits, e.g. 16"),
    "mains_hz": (50, 60, "Hz", "50 or 60"),
}
LAB_SCHEMA = {
    "schema": "enum:" + SCHEMA_ID,
    "lab": {"name": "text", "department": "text", "address": "text"},
    "system": {"manufacturer": "text", "model": "text", "software": "text", "serial_numbers": "text"},
    "front_end": {"chip": "text", "detection_mode": "text", "input_impedance": "text", "cmrr_db": "cmrr_db",
                  "gain": "gain", "analog_filters": "text", "adc_bits": "adc_bits"},
    "electrodes": {"type": "text", "material": "text", "size_mm": "number_mm",
                   "inter_electrode_distance_mm": "number_mm", "skin_preparation": "text", "placement_guide": "text"},
    "calibration": {"date": "date", "method": "text", "passed": "bool"},
    "mains_hz": "mains_hz",
}


def default_lab_path():
    """$XDG_CONFIG_HOME/myostride/lab.json (XDG default ~/.config)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "myostride" / "lab.json"


def template():
    """A profile with every key and no values: the lab fills in what it has measured or documented."""
    def blank(spec):
        return {k: blank(v) if isinstance(v, dict) else None for k, v in spec.items()}

    out = blank(LAB_SCHEMA)
    out["schema"] = SCHEMA_ID
    return out


def validate_lab(data):
    """[problem, ...] (empty when valid); each names the field and the fix."""
    if not isinstance(data, dict):
        return ["the lab profile must be a JSON object, not %s" % _type_name(data)]
    problems = []
    plain = {k: v for k, v in LAB_SCHEMA.items() if not _has_lab_kind(v)}
    for key in data:
        if key not in LAB_SCHEMA and key != "_path":
            problems.append("%s: unknown key; allowed keys: %s" % (key, ", ".join(LAB_SCHEMA)))
    # The clinical file's kinds (text, date, number_mm, enum) exactly as the clinical file checks them.
    _check_object({k: v for k, v in data.items() if k in plain}, plain, "", problems)
    for key, spec in LAB_SCHEMA.items():
        if key in plain or data.get(key) is None:
            continue
        _check(data[key], spec, key, problems)
    if data.get("schema") is None:
        problems.append('schema: missing; write "schema": "%s"' % SCHEMA_ID)
    return problems


def _has_lab_kind(spec):
    if isinstance(spec, dict):
        return any(_has_lab_kind(v) for v in spec.values())
    return spec in KINDS or spec == "bool"


def _check(value, spec, field, problems):
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            problems.append("%s: must be an object with keys %s, not %s" % (field, ", ".join(spec), _type_name(value)))
            return
        for key in value:
            if key not in spec:
                problems.append("%s.%s: unknown key; allowed in %s: %s" % (field, key, field, ", ".join(spec)))
        for key, kind in spec.items():
            if value.get(key) is not None:
                _check(value[key], kind, field + "." + key, problems)
    elif spec == "bool":
        if not isinstance(value, bool):
            problems.append("%s: must be true or false, not %s" % (field, _type_name(value)))
    elif spec in KINDS:
        lo, hi, unit, example = KINDS[spec]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append("%s: must be a number, not %s; write %s" % (field, _type_name(value), example))
        elif spec == "mains_hz" and value not in (50, 60):
            problems.append("%s: %s Hz is not a mains frequency; write 50 or 60" % (field, value))
        elif spec == "adc_bits" and value != int(value):
            problems.append("%s: %s is not a whole number of bits; write %s" % (field, value, example))
        elif not lo <= value <= hi:
            problems.append("%s: %s%s is impossible; write %s (%g to %g%s)"
                            % (field, value, (" " + unit) if unit else "", example, lo, hi, (" " + unit) if unit else ""))
    else:
        _check_value(value, spec, field, problems)


def load_lab(path):
    """Read and validate a lab profile; UserError naming every problem (one line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("lab profile %s does not exist; write one with `myostride lab init --out %s`" % (path, path))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError("cannot read lab profile %s (%s); save it as UTF-8 JSON" % (path, exc))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError("lab profile %s is not valid JSON (line %d column %d: %s); fix the syntax"
                        % (path, exc.lineno, exc.colno, exc.msg))
    problems = validate_lab(data)
    if problems:
        raise UserError("lab profile %s has %d problem%s: %s; see docs/interop.md"
                        % (path, len(problems), "" if len(problems) == 1 else "s", "; ".join(problems)))
    data["_path"] = str(path)
    return data


def find_lab(explicit=None, use_default=True):
    """The profile to use: --lab FILE, else the default location if a file is there, else None."""
    if explicit:
        return load_lab(explicit)
    if use_default and default_lab_path().is_file():
        return load_lab(default_lab_path())
    return None


def equipment_facts(lab):
    """{equipment fact path: value} the profile provides (only filled-in values)."""
    if not lab:
        return {}
    facts = {}
    system = lab.get("system") or {}
    hw = " ".join(x for x in (system.get("manufacturer"), system.get("model")) if x)
    if hw:
        facts["node_hardware"] = [hw]
    if system.get("software"):
        facts["firmware_versions"] = [system["software"]]
    for key, value in (lab.get("front_end") or {}).items():
        if value is not None:
            facts["front_end." + key] = value
    for key, value in (lab.get("electrodes") or {}).items():
        if value is not None:
            facts["electrodes." + key] = value
    cal = lab.get("calibration") or {}
    if cal.get("passed") is not None and cal.get("date"):
        facts["calibration"] = {"status": "passed" if cal["passed"] else "failed", "nodes": [],
                                "lab_record": {k: cal.get(k) for k in ("date", "method", "passed")}}
    return facts
