"""Reviewing and curating a LeRobotDataset v3.0 in a browser: `sim-teleop review ROOT [--port N]`.

`model` reads the root into one row per episode (scores and reasons from the sidecar, or from offline
scores kept beside it), `episode` gives one episode's traces and worst stretch, `scoring` runs the
offline scorer on demand, `lockstate` sees a running recorder without taking its lock, `app` holds the
page's state and curation (delete, filtered copy, repair), `server` serves it with the standard
library, `static/` is the page itself.
"""
