"""`myostride batch`: the analysis of `myostride analyze` over an archive, on Dask.

One job per input (a C3D file or a session folder). Each job runs on a Dask worker and writes its
own Parquet part files under the results folder, so no table is ever held whole in memory and a
re-run skips every job whose parts already exist for the same input, settings and tool version:

    discover.py   ROOT / globs / CSV manifest -> jobs (path + per-file --map/--side/...)
    jobkey.py     what makes a job "already done": input identity + settings + tool version
    tables.py     analysis JSON -> rows of the files / channels / strides / failures tables
    runner.py     the Dask loop: bounded submission, progress, failures recorded, never skipped silently
"""
