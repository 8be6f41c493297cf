"""Host acquisition: scan, connect, synchronise clocks, record without loss.

One module per job: scanner (advertising), link (one node's GATT link),
sync (clock model from time-sync exchanges), gaps (missing-sequence
tracking and resend planning), rawlog (crash-safe append-only log),
manifest (session.json), recorder (the session), live (rich display).
"""
