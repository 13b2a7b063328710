"""The review page's HTTP server: the standard library's threading server, one page, a JSON API, video.

Why the standard library: the page is one HTML file, one script and one stylesheet shipped in the
package (no network, nothing to build), the API is a handful of JSON routes, and the only demanding
thing is video, which is the dataset's own MP4 files served as they are with HTTP range requests: the
browser seeks inside them by the episode's timestamps and decodes them itself (Chromium decodes AV1).
No re-encoding, no framework, no dependency.

A file is opened per request, by path under the current root: after a recorder's commit exchanged the
root, the next request finds the new version, and an open file stays readable even if its directory
was exchanged away meanwhile.
"""

from __future__ import annotations

import json
import mimetypes
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sim_teleop.review.app import ReviewApp
from sim_teleop.review.model import ReviewProblem, abspath_inside

STATIC = Path(__file__).with_name("static")
ASSETS = {"/": "index.html", "/app.js": "app.js", "/app.css": "app.css"}
RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _indices(body: dict[str, Any]) -> list[int]:
    value = body.get("indices")
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError("indices: expected a list of episode numbers")
    return value


class Handler(BaseHTTPRequestHandler):
    app: ReviewApp  # set on the subclass `serve` makes
    server_version = "sim-teleop-review"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a request line per poll would bury the URL line

    # --- responses -----------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        self._send(status, json.dumps(data, allow_nan=False, default=str).encode(), "application/json")

    def _error(self, text: str, status: int = 400) -> None:
        self._json({"ok": False, "text": text}, status)

    # --- routes --------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            self._route_get(url.path, parse_qs(url.query))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser stopped reading (a seek): nothing to answer
        except ReviewProblem as exc:
            self._error(str(exc), 404)
        except Exception as exc:  # never a stack trace on the page
            self._error(f"{type(exc).__name__}: {exc}", 500)

    do_HEAD = do_GET

    def _route_get(self, path: str, query: dict[str, list[str]]) -> None:
        if path in ASSETS:
            name = ASSETS[path]
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self._send(200, (STATIC / name).read_bytes(), f"{ctype}; charset=utf-8")
        elif path == "/api/state":
            known = query.get("v", [""])[0]
            self._json(self.app.state(int(known) if known.isdigit() else None))
        elif path.startswith("/api/episode/") and path.rsplit("/", 1)[-1].isdigit():
            self._json(self.app.detail(int(path.rsplit("/", 1)[-1])))
        elif path.startswith("/video/"):
            self._video(unquote(path.removeprefix("/video/")))
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            self._error(f"no such page: {path}", 404)

    def _same_origin(self) -> bool:
        """A curation comes from this page: JSON (a cross-site form cannot send that without a CORS
        preflight, which this server never grants) and, when the browser names it, our own origin."""
        json_body = (self.headers.get("Content-Type") or "").split(";")[0].strip() == "application/json"
        origin = self.headers.get("Origin")
        return json_body and (origin is None or origin == f"http://{self.headers.get('Host')}")

    def do_POST(self) -> None:
        if not self._same_origin():
            self._error("refused: curation requests come from the review page itself", 403)
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            self._json(self._route_post(urlsplit(self.path).path, body))
        except ValueError as exc:
            self._error(f"bad request: {exc}")
        except Exception as exc:
            self._error(f"{type(exc).__name__}: {exc}", 500)

    def _route_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        app = self.app
        if path == "/api/delete":
            return app.delete(_indices(body))
        if path == "/api/copy":
            return app.copy(_indices(body), str(body.get("out") or ""))
        if path == "/api/repair":
            return app.repair()
        if path == "/api/score":
            return app.score()
        if path == "/api/score/keep":
            return app.keep_scores()
        raise ValueError(f"no such action: {path}")

    # --- video ---------------------------------------------------------------------------------------

    def _video(self, rel: str) -> None:
        path = abspath_inside(self.app.root, rel)
        if path is None or path.suffix.lower() not in (".mp4", ".m4v", ".mov", ".webm", ".mkv"):
            self._error(f"not a video of this dataset: {rel}", 404)
            return
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            self._error(f"{rel}: gone (the dataset changed); reload the episode", 404)
            return
        with fh:
            self._ranged(fh, path)

    def _ranged(self, fh: Any, path: Path) -> None:
        size = fh.seek(0, 2)
        start, end = 0, size - 1
        found = RANGE.match(self.headers.get("Range") or "")
        if found and (found.group(1) or found.group(2)):
            if found.group(1):
                start = int(found.group(1))
                end = min(int(found.group(2)), size - 1) if found.group(2) else size - 1
            else:
                start = max(0, size - int(found.group(2)))
            if start > end:
                self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
                return
        status = HTTPStatus.PARTIAL_CONTENT if found else HTTPStatus.OK
        self.send_response(status)
        self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if found:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        fh.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                break
            self.wfile.write(chunk)
            left -= len(chunk)


class ReviewServer:
    """The server on host:port (0: any free port) in a background thread; `url`, `close()`."""

    def __init__(self, app: ReviewApp, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("BoundHandler", (Handler,), {"app": app})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.app = app
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="review-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> ReviewServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
