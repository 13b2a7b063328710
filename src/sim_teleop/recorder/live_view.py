"""Live view of a recording in rerun (rerun-sdk directly; dora-rerun does not work with dora 1.1).

Shows both cameras, the 18 state values, the 4 action values, the sim's episode/phase, whether the
frame is being recorded, and each episode's quality score when its report arrives.
Modes: `spawn` (open the rerun viewer), `save` (write an .rrd file, for headless machines), `off`,
and `auto` = spawn when a display exists, else save when an .rrd path is configured, else off.

The view can never hold up a recording. Every rerun call runs on one worker thread fed by a small
queue; when the queue is full the view's data is dropped (counted, said once). The viewer is started
here rather than by `rr.spawn` so its exit can be seen: under software GL it dies at start ("Adapter
does not support drawing to texture format R32Float") and rerun's sender then blocks in `rr.log` and
at process exit. A viewer that dies, never opens its port, or stops taking data (a call busy for
`stall_s`) switches the view off with one line, and rerun's blocking exit-time flush is dropped.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim_teleop.messages import ACTION_NAMES, CAMERAS, STATE_NAMES, Frame, QualityReport

MODES = ("auto", "spawn", "save", "off")
DEFAULT_PORT = 9876  # rerun's own default, so an already open viewer is reused
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Streams to a gone or stalled viewer: a RecordingStream's destructor waits for its sink, so these are
# never released; a process holding one leaves with os._exit (see `LiveView.stuck`).
_ABANDONED: list[Any] = []


class ViewerError(RuntimeError):
    """The rerun viewer could not be started or reached."""


def resolve_mode(mode: str, rrd_path: str | None, display: str | None = None) -> str:
    """The mode actually used: `auto` becomes spawn/save/off from the display and the .rrd path."""
    mode = mode.strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"rerun mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "auto":
        display = os.environ.get("DISPLAY") if display is None else display
        return "spawn" if display else ("save" if rrd_path else "off")
    if mode == "save" and not rrd_path:
        raise ValueError("rerun mode 'save' needs an .rrd path (RECORD_RRD_PATH)")
    return mode


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port (an open rerun viewer)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def last_line(path: Path) -> str:
    """The last non-empty line of a log, without colour codes (why a viewer died)."""
    try:
        lines = [_ANSI.sub("", ln).strip() for ln in path.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [ln for ln in lines if ln]
    # rerun's own errors end with a link to its troubleshooting guide; the cause comes first
    return lines[-1].split(" Check the troubleshooting guide")[0][:300] if lines else ""


def viewer_command(port: int) -> list[str]:
    """The rerun viewer of this environment, listening for the recorder on `port`."""
    exe = shutil.which("rerun", path=str(Path(sys.executable).parent)) or shutil.which("rerun")
    if exe is None:
        raise FileNotFoundError("the rerun viewer executable (pip package rerun-sdk) is not installed")
    return [exe, "--port", str(port), "--memory-limit", "25%", "--expect-data-soon"]


class LiveView:
    """Sends frames and quality reports to rerun off the caller's thread; degrades instead of blocking."""

    def __init__(
        self,
        mode: str,
        rrd_path: str | None,
        log: Callable[[str], None] = print,
        *,
        port: int = DEFAULT_PORT,
        viewer_log: Path | None = None,
        viewer_cmd: Sequence[str] | None = None,
        queue_size: int = 8,
        stall_s: float = 5.0,
        start_timeout_s: float = 20.0,
    ) -> None:
        self.mode = resolve_mode(mode, rrd_path)
        self.log = log
        self.rrd_path = rrd_path
        self.port = port
        self.viewer_log = viewer_log
        self.viewer_cmd = list(viewer_cmd) if viewer_cmd is not None else None
        self.stall_s = stall_s
        self.start_timeout_s = start_timeout_s
        self.dropped = 0
        self.off_reason: str | None = None
        self.stuck = False  # a rerun call never returned: its exit-time flush must not run
        self.viewer: subprocess.Popen[bytes] | None = None
        self._tick = 0
        self._queue: queue.Queue[Callable[[Any, Any], None]] = queue.Queue(maxsize=queue_size)
        self._closing = threading.Event()
        self._opened = threading.Event()  # rerun imported, sink (and viewer) up
        self._busy_since: float | None = None
        self._progress_at = time.monotonic()  # last time the worker finished something
        self._said_drop = False
        self._rr: Any = None
        self._rec: Any = None
        self._thread: threading.Thread | None = None
        if self.mode == "off":
            return
        self._thread = threading.Thread(target=self._run, name="live-view", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        return self._thread is not None and self.off_reason is None

    # -- caller side (the recorder's thread): never blocks ------------------------------------------

    def frame(self, frame: Frame, recording: bool, saved: int) -> None:
        self._tick += 1
        tick = frame.tick_index or self._tick
        self._put(lambda rr, rec: _log_frame(rr, rec, tick, frame, recording, saved))

    def quality(self, attempt: int, report: QualityReport | None, saved_as: int | None) -> None:
        self._put(lambda rr, rec: _log_quality(rr, rec, attempt, report, saved_as))

    def _put(self, call: Callable[[Any, Any], None]) -> None:
        if not self.active:
            return
        busy = self._busy_since
        if busy is not None and time.monotonic() - busy > self.stall_s:
            self.stuck = True
            self._switch_off(f"the viewer took no data for {self.stall_s:.0f} s (stalled?)")
            return
        try:
            self._queue.put_nowait(call)
        except queue.Full:
            self.dropped += 1
            if not self._said_drop:
                self._said_drop = True
                self.log("live view cannot keep up: dropping its frames (the recording is unaffected)")

    def close(self, timeout_s: float = 3.0) -> None:
        """Send what is queued, then let go: waits while the worker makes progress, at most `timeout_s`
        without any; a stuck rerun sender is abandoned, not awaited."""
        if self._thread is None:
            return
        self._closing.set()
        while self._thread.is_alive():
            self._thread.join(0.1)
            limit = timeout_s if self._opened.is_set() else self.start_timeout_s + timeout_s
            if time.monotonic() - self._progress_at > limit:
                self.stuck = True
                break
        if self.stuck or self.off_reason is not None:
            self._forget_rerun()
        if self.dropped:
            self.log(f"live view: {self.dropped} update(s) dropped")

    # -- worker side -------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._open()
        except ViewerError as exc:
            self._switch_off(str(exc))
            return
        except Exception as exc:
            self._switch_off(f"{type(exc).__name__}: {exc}")
            return
        self._progress_at = time.monotonic()
        self._opened.set()
        while self.off_reason is None:
            try:
                call = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._closing.is_set():
                    break
                self._check_viewer()
                continue
            self._busy_since = time.monotonic()
            try:
                call(self._rr, self._rec)
            except Exception as exc:
                self._switch_off(f"{type(exc).__name__}: {exc}")
            finally:
                self._busy_since = None
                self._progress_at = time.monotonic()
            self._check_viewer()
        if self.off_reason is None and self._rec is not None:
            try:
                self._rec.flush(timeout_sec=2.0)
            except Exception as exc:  # e.g. "Flush timed out": the viewer is not reading
                self.stuck = True
                self._switch_off(f"{type(exc).__name__}: {exc}")

    def _open(self) -> None:
        import rerun as rr

        self._rr = rr
        # The first archetype built imports the rest of rerun (~3 s on a loaded 2-core machine).
        rr.Image(np.zeros((2, 2, 3), np.uint8)), rr.Scalars(0.0), rr.TextDocument(""), rr.TextLog("")
        self._progress_at = time.monotonic()
        rec = rr.RecordingStream("sim_teleop_recorder")
        if self.mode == "save":
            path = Path(self.rrd_path or "recording.rrd")
            path.parent.mkdir(parents=True, exist_ok=True)
            rec.save(path)
            self._rec = rec
            self.log(f"live view: rerun save -> {path}")
            return
        reuse = port_open(self.port)
        if not reuse:
            self._start_viewer()
        rec.connect_grpc(f"rerun+http://127.0.0.1:{self.port}/proxy")
        self._rec = rec
        self.log(f"live view: rerun viewer on port {self.port}" + (" (already open)" if reuse else ""))

    def _start_viewer(self) -> None:
        cmd = self.viewer_cmd or viewer_command(self.port)
        out: Any = subprocess.DEVNULL
        if self.viewer_log is not None:
            self.viewer_log.parent.mkdir(parents=True, exist_ok=True)
            out = self.viewer_log.open("wb")
        try:
            # Own session: the viewer outlives the recording (people keep looking) and dora's stop.
            self.viewer = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        deadline = time.monotonic() + self.start_timeout_s
        while not port_open(self.port):
            code = self.viewer.poll()
            if code is not None:
                raise ViewerError(f"the rerun viewer exited at start (code {code}){self._viewer_says()}")
            if time.monotonic() > deadline or self._closing.is_set():
                waited = f"{self.start_timeout_s:.0f} s"
                raise ViewerError(f"the rerun viewer did not open port {self.port} in {waited}")
            time.sleep(0.1)

    def _viewer_says(self) -> str:
        said = last_line(self.viewer_log) if self.viewer_log is not None else ""
        return f": {said}" if said else ""

    def _check_viewer(self) -> None:
        if self.viewer is not None and self.off_reason is None:
            code = self.viewer.poll()
            if code is not None:
                self.stuck = True  # its sender would block at exit
                self._switch_off(f"the rerun viewer exited (code {code}){self._viewer_says()}")

    def _switch_off(self, why: str) -> None:
        if self.off_reason is None:
            self.off_reason = why
            hint = "; RECORD_RERUN=save writes an .rrd to open later" if self.mode == "spawn" else ""
            self.log(f"live view off: {why}{hint}")

    def _forget_rerun(self) -> None:
        """Skip rerun's exit-time flush, which waits forever on a viewer that is gone or stalled."""
        if self._rec is not None:
            _ABANDONED.append(self._rec)
        try:
            import rerun as rr

            rr.unregister_shutdown()
        except Exception:
            pass


def _log_frame(rr: Any, rec: Any, tick: int, frame: Frame, recording: bool, saved: int) -> None:
    rec.set_time("tick", sequence=tick)
    for cam in CAMERAS:
        rec.log(f"cameras/{cam}", rr.Image(frame.image(cam)))
    for name, value in zip(STATE_NAMES, frame.state, strict=False):
        rec.log(f"state/{name}", rr.Scalars(float(value)))
    for name, value in zip(ACTION_NAMES, frame.action, strict=False):
        rec.log(f"action/{name}", rr.Scalars(float(value)))
    rec.log("episode/attempt", rr.Scalars(float(frame.episode_index)))
    rec.log("episode/recording", rr.Scalars(1.0 if recording else 0.0))
    rec.log("episode/saved", rr.Scalars(float(saved)))
    rec.log(
        "episode/status",
        rr.TextDocument(
            f"attempt {frame.episode_index} | {frame.phase.value} | frame {frame.frame_index} | "
            f"{'REC' if recording else 'not recorded'} | end: {frame.end_reason.value or '-'} | "
            f"saved {saved}"
        ),
    )


def _log_quality(rr: Any, rec: Any, attempt: int, report: QualityReport | None, saved_as: int | None) -> None:
    if report is not None:
        rec.log("quality/score", rr.Scalars(float(report.score)))
    verdict = f"score {report.score:.3f} ({report.verdict.value}) {report.reasons}" if report else "no report"
    where = f" -> dataset episode {saved_as}" if saved_as is not None else " -> not saved"
    rec.log("quality/log", rr.TextLog(f"attempt {attempt}: {verdict}{where}"))
