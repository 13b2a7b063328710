"""`sim-teleop review ROOT [--port N] [--host H] [--repo-id ID] [--no-browser]`: serve the review page.

Prints the page's URL and serves until Ctrl-C. A browser opens by itself only where there is a display
(DISPLAY or WAYLAND_DISPLAY) and not with --no-browser: headless, open the URL from elsewhere (e.g.
through `ssh -L PORT:127.0.0.1:PORT`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import webbrowser
from pathlib import Path

from sim_teleop.review.app import ReviewApp
from sim_teleop.review.server import ReviewServer

DEFAULT_PORT = 8765


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="sim-teleop review", description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="dataset root (holds meta/info.json)")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0: a free one")
    ap.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    ap.add_argument("--repo-id", default=None, help="repo id for lerobot (default local/<root name>)")
    ap.add_argument("--no-browser", action="store_true", help="do not open a browser")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        server = ReviewServer(ReviewApp(args.root, args.repo_id), args.host, args.port).start()
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"reviewing {server.app.root} at {server.url}  (Ctrl-C stops)", flush=True)
    if not args.no_browser and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        webbrowser.open(server.url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
