"""Analysis JSON -> rows of the four batch tables, and their Parquet part files.

Tables (each a folder of Parquet part files, one part per input, readable whole with
`pyarrow.dataset.dataset(folder)` or `pandas.read_parquet(folder)`):

- files:    one row per analysed input: source, kind, vendor, rates, event source, units decision, warnings
- channels: one row per analysed EMG channel: muscle, side, quality call and reasons, flags
- strides:  one row per channel and stride: onset/offset in % of the cycle and in s, active share
- failures: one row per input that could not be analysed, with the one-line reason

Every row carries the input's `key` and `path`, so the tables join on `key`.
"""

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

TABLES = ("files", "channels", "strides", "failures")
_str, _f64, _i64, _bool = pa.string(), pa.float64(), pa.int64(), pa.bool_()

SCHEMAS = {
    "files": pa.schema([
        ("key", _str), ("path", _str), ("kind", _str), ("vendor", _str), ("emg_rates_hz", pa.list_(_f64)),
        ("channels_analysed", _i64), ("channels_usable", _i64), ("unmapped_channels", pa.list_(_str)),
        ("event_source", _str), ("event_convention", _str), ("strides_left", _i64), ("strides_right", _i64),
        ("units_decision", _str), ("warnings", pa.list_(_str)), ("settings_json", _str), ("tool_version", _str)]),
    "channels": pa.schema([
        ("key", _str), ("path", _str), ("label", _str), ("muscle", _str), ("side", _str), ("fs_hz", _f64),
        ("quality_call", _str), ("usable", _bool), ("quality_reasons", pa.list_(_str)), ("units", _str),
        ("interpreted", _bool), ("flags", pa.list_(_str)), ("flag_details", pa.list_(_str)),
        ("strides_used", _i64), ("strides_excluded", _i64)]),
    "strides": pa.schema([
        ("key", _str), ("path", _str), ("label", _str), ("muscle", _str), ("side", _str), ("stride", _i64),
        ("start_s", _f64), ("end_s", _f64), ("excluded", _str),
        ("onset_pct", pa.list_(_f64)), ("offset_pct", pa.list_(_f64)),
        ("onset_s", pa.list_(_f64)), ("offset_s", pa.list_(_f64)), ("active_share", _f64)]),
    "failures": pa.schema([
        ("key", _str), ("path", _str), ("reason", _str), ("error_kind", _str), ("tool_version", _str)]),
}


def _vendor(meta):
    """Manufacturer/software as the file states it (C3D MANUFACTURER group), else the recorder's name."""
    meta = meta or {}
    for key in ("vendor", "manufacturer", "software"):
        if meta.get(key):
            return str(meta[key])
    if "session" in meta:
        return "myostride"
    return None


def _quality_call(q):
    return q.get("call") or ("usable" if q.get("usable") else "unusable")


def _units_decision(result):
    """One line per distinct units decision of the file's channels (the analysis explains each)."""
    seen = []
    for ch in result["channels"]:
        q = ch.get("quality", {})
        text = ch.get("units") or q.get("units") or ch.get("units_note")
        if isinstance(text, dict):
            text = text.get("decision") or json.dumps(text, sort_keys=True)
        if text and text not in seen:
            seen.append(str(text))
    source_units = (result.get("source", {}).get("units") if isinstance(result.get("source"), dict) else None)
    if isinstance(source_units, dict):
        source_units = source_units.get("decision")
    if source_units and source_units not in seen:
        seen.insert(0, str(source_units))
    return "; ".join(seen) or None


def rows_for(key, job, result, settings_json, tool_version):
    """{table: [row, ...]} for one analysed input."""
    path = job["path"]
    ev = result.get("events", {})
    channels = result.get("channels", [])
    gait = result.get("gait", {})
    files = [{
        "key": key, "path": path, "kind": result.get("source", {}).get("kind"),
        "vendor": _vendor(result.get("source", {}).get("meta")),
        "emg_rates_hz": sorted(set(float(ch["fs_hz"]) for ch in channels)),
        "channels_analysed": len(channels),
        "channels_usable": sum(1 for ch in channels if ch.get("quality", {}).get("usable")),
        "unmapped_channels": [str(c) for c in result.get("unmapped_channels", [])],
        "event_source": ev.get("source"), "event_convention": ev.get("convention"),
        "strides_left": int(gait.get("left", {}).get("strides", 0)),
        "strides_right": int(gait.get("right", {}).get("strides", 0)),
        "units_decision": _units_decision(result),
        "warnings": [str(w) for w in result.get("warnings", []) + ev.get("warnings", [])],
        "settings_json": settings_json, "tool_version": tool_version}]
    chans, strides = [], []
    for ch in channels:
        q = ch.get("quality", {})
        comp = ch.get("comparison", {})
        flags = comp.get("flags", [])
        units = ch.get("units") or q.get("units")
        chans.append({
            "key": key, "path": path, "label": ch["label"], "muscle": ch.get("muscle"), "side": ch.get("side"),
            "fs_hz": float(ch["fs_hz"]), "quality_call": _quality_call(q), "usable": bool(q.get("usable")),
            "quality_reasons": [str(r) for r in q.get("reasons", [])],
            "units": json.dumps(units, sort_keys=True) if isinstance(units, dict) else units,
            "interpreted": bool(comp.get("interpreted")),
            "flags": [f["kind"] for f in flags], "flag_details": [str(f.get("detail", "")) for f in flags],
            "strides_used": int(ch.get("strides_used", 0)), "strides_excluded": int(ch.get("strides_excluded", 0))})
        for i, cyc in enumerate(ch.get("cycles", [])):
            pct = cyc.get("active_pct") or []
            sec = cyc.get("active_s") or []
            duration_s = cyc["end_s"] - cyc["start_s"]
            active_s = sum(b - a for a, b in sec)
            strides.append({
                "key": key, "path": path, "label": ch["label"], "muscle": ch.get("muscle"), "side": ch.get("side"),
                "stride": i, "start_s": cyc["start_s"], "end_s": cyc["end_s"], "excluded": cyc.get("excluded"),
                "onset_pct": [float(a) for a, _ in pct], "offset_pct": [float(b) for _, b in pct],
                "onset_s": [float(a) for a, _ in sec], "offset_s": [float(b) for _, b in sec],
                "active_share": (active_s / duration_s) if (cyc.get("excluded") is None and duration_s > 0) else None})
    return {"files": files, "channels": chans, "strides": strides}


def failure_rows(key, job, reason, error_kind, tool_version):
    return {"failures": [{"key": key, "path": job["path"], "reason": reason, "error_kind": error_kind,
                          "tool_version": tool_version}]}


def part_path(out_dir, table, key):
    return os.path.join(out_dir, table, "part-%s.parquet" % key)


def write_parts(out_dir, key, rows_by_table):
    """Write one part per table, atomically; `files` (or `failures`) last: its presence marks the job done."""
    order = [t for t in ("channels", "strides") if t in rows_by_table]
    order += [t for t in ("files", "failures") if t in rows_by_table]
    for table in order:
        path = part_path(out_dir, table, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        pq.write_table(pa.Table.from_pylist(rows_by_table[table], schema=SCHEMAS[table]), tmp)
        os.replace(tmp, path)


def is_done(out_dir, key):
    return any(os.path.exists(part_path(out_dir, t, key)) for t in ("files", "failures"))


def read_table(out_dir, table):
    """A whole table (for tests and small archives; large ones are better read with pyarrow.dataset)."""
    folder = os.path.join(out_dir, table)
    parts = sorted(f for f in os.listdir(folder) if f.endswith(".parquet")) if os.path.isdir(folder) else []
    if not parts:
        return SCHEMAS[table].empty_table()
    return pa.concat_tables([pq.read_table(os.path.join(folder, f), schema=SCHEMAS[table]) for f in parts])
