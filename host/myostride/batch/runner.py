"""Run the jobs on Dask: a local cluster (one single-threaded worker process per core) by default,
or an existing scheduler. At most `2 x workers` jobs are in flight, workers return only a status,
and each job's rows go straight to its own Parquet parts, so memory stays bounded on any archive.
"""

import json
import logging
import os
import sys
import time

from .. import __version__
from ..errors import UserError
from . import tables
from .jobkey import job_key


def analyse_job(job, settings, out_dir, key):
    """Worker side: analyse one input and write its parts; every outcome is recorded, nothing raised."""
    from ..analysis import load_input, pipeline

    settings_json = json.dumps(settings, sort_keys=True)
    try:
        rec = load_input(job["path"], maps=job["maps"], side=job["side"], units=job["units"],
                         events_csv=job["events"])
        result = pipeline.analyse(rec, settings)
    except UserError as exc:
        tables.write_parts(out_dir, key, tables.failure_rows(key, job, str(exc), "input", __version__))
        return {"key": key, "status": "failed", "reason": str(exc)}
    except Exception as exc:  # a bug or an unreadable file: recorded as a failure, never skipped silently
        reason = "internal error (%s: %s); please report it with this file" % (type(exc).__name__, exc)
        tables.write_parts(out_dir, key, tables.failure_rows(key, job, reason, "internal", __version__))
        return {"key": key, "status": "failed", "reason": reason}
    tables.write_parts(out_dir, key, tables.rows_for(key, job, result, settings_json, __version__))
    return {"key": key, "status": "analysed", "channels": len(result["channels"])}


def plan(jobs, settings, out_dir, force=False):
    """(todo, skipped): jobs with their keys; with force, earlier parts of the todo jobs are removed."""
    todo, skipped = [], []
    for job in jobs:
        key = job_key(job, settings)
        if tables.is_done(out_dir, key) and not force:
            skipped.append((key, job))
            continue
        if force:
            for table in tables.TABLES:
                try:
                    os.remove(tables.part_path(out_dir, table, key))
                except FileNotFoundError:
                    pass
        todo.append((key, job))
    return todo, skipped


def _client(scheduler, workers):
    """(client, cluster or None). Local: processes, one thread each (the analysis holds the GIL)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="15s"), None
        except (OSError, TimeoutError) as exc:
            raise UserError("cannot reach the Dask scheduler at %s (%s); start one with `dask scheduler` "
                            "or leave out --scheduler to run on this machine" % (scheduler, exc))
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run_batch(jobs, settings, out_dir, scheduler=None, workers=None, force=False, progress=True):
    """Analyse every job not done yet; returns the run summary (also written to out_dir/batch.json)."""
    from dask.distributed import as_completed

    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise UserError("cannot create the results folder %s (%s); choose another --out" % (out_dir, exc.strerror))
    if not os.access(out_dir, os.W_OK):
        raise UserError("cannot write to the results folder %s; choose another --out" % out_dir)
    todo, skipped = plan(jobs, settings, out_dir, force)
    summary = {"tool_version": __version__, "settings": settings, "inputs": len(jobs), "skipped": len(skipped),
               "analysed": 0, "failed": 0, "scheduler": scheduler or "local", "seconds": 0.0}
    t0 = time.monotonic()
    if todo:
        workers = workers or os.cpu_count() or 1
        client, cluster = _client(scheduler, workers)
        try:
            n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
            window = 2 * n_workers
            pending = iter(todo)
            futures = as_completed()
            for key, job in _take(pending, window):
                futures.add(client.submit(analyse_job, job, settings, out_dir, key, key="batch-" + key, pure=False))
            with _Progress(len(todo), enabled=progress) as bar:
                for fut in futures:
                    try:
                        status = fut.result()
                    except Exception as exc:  # the worker died or the cluster went away
                        raise UserError("the Dask cluster lost a job (%s: %s); re-run the same command to "
                                        "resume (finished files are kept)" % (type(exc).__name__, exc))
                    summary[status["status"]] += 1
                    bar.advance(status)
                    for key, job in _take(pending, 1):
                        futures.add(client.submit(analyse_job, job, settings, out_dir, key, key="batch-" + key,
                                                  pure=False))
        finally:
            client.close(timeout=10)
            if cluster is not None:
                cluster.close(timeout=10)
    summary["seconds"] = round(time.monotonic() - t0, 3)
    with open(os.path.join(out_dir, "batch.json.tmp"), "w") as fh:
        json.dump(summary, fh, indent=1)
    os.replace(os.path.join(out_dir, "batch.json.tmp"), os.path.join(out_dir, "batch.json"))
    return summary


def _take(iterator, n):
    out = []
    for item in iterator:
        out.append(item)
        if len(out) == n:
            break
    return out


class _Progress:
    """A rich progress bar on an interactive terminal, a line per failure and per 10 % otherwise."""

    def __init__(self, total, enabled=True):
        self.total, self.done, self.enabled = total, 0, enabled
        self.rich = None
        if enabled and sys.stderr.isatty():
            from rich.progress import Progress
            self.rich = Progress(transient=False)

    def __enter__(self):
        if self.rich:
            self.rich.start()
            self.task = self.rich.add_task("analysing", total=self.total)
        return self

    def advance(self, status):
        self.done += 1
        if not self.enabled:
            return
        if self.rich:
            self.rich.advance(self.task)
        elif self.done == self.total or self.done % max(1, self.total // 10) == 0:
            print("batch: %d/%d inputs done" % (self.done, self.total), file=sys.stderr)

    def __exit__(self, *exc):
        if self.rich:
            self.rich.stop()
        return False
