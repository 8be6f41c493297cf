"""The therapist's console: a local web page for the whole trial (`myostride console`).

The page is a client of the same recorder, check, analysis and report code the CLI
uses; nothing here reaches back upstream. Parts, one job each:

  app.py        Starlette app: routes, JSON API, the live WebSocket
  security.py   access token, Host/Origin checks, CSRF header (localhost by default)
  studies.py    a study on disk: clinical.json, checks/, trials/, report/
  radio.py      the one backend object, the simulated patient, scan and identify
  recording.py  the ONE adapter around acquire.recorder (a child process per trial)
  livefeed.py   tails a trial's raw.log into decimated traces, badges and gait ticks
  review.py     analysis figures, findings and the report, via the report package
  static/       the page (vanilla JS + canvas, no build step, no CDN)
"""
