"""The rerun live view: mode resolution, a headless .rrd, and a viewer that dies, stalls or is slow.

The view must never hold up the recorder: every call on the caller's side returns at once, whatever
the viewer does, and `close()` is bounded.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port
from recorder_fakes import ScriptedSim

import sim_teleop.recorder.live_view as live_view
from sim_teleop.messages import QualityReport, Verdict
from sim_teleop.recorder.live_view import LiveView, resolve_mode


def test_mode_follows_display_and_rrd_path() -> None:
    assert resolve_mode("auto", None, display=":1") == "spawn"
    assert resolve_mode("auto", "x.rrd", display="") == "save"
    assert resolve_mode("auto", None, display="") == "off"
    with pytest.raises(ValueError, match="RECORD_RRD_PATH"):
        resolve_mode("save", None)
    with pytest.raises(ValueError, match="expected one of"):
        resolve_mode("window", None)


def _wait(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def mute_listener() -> Iterator[int]:
    """A 'viewer' that accepts connections and never reads a byte: a stalled rerun viewer."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(srv.accept()[0])

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield int(srv.getsockname()[1])
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()


def test_headless_save_writes_an_rrd(tmp_path: Path) -> None:
    rrd = tmp_path / "live.rrd"
    logs: list[str] = []
    view = LiveView("save", str(rrd), log=logs.append)
    sim = ScriptedSim()
    for _ in range(3):
        view.frame(sim.tick(), recording=True, saved=0)
    view.quality(0, QualityReport(0, 0.7, Verdict.GOOD), saved_as=0)
    view.close()
    assert view.off_reason is None and not view.stuck, logs
    assert rrd.exists() and rrd.stat().st_size > 10_000  # two 128x128 images per frame went in


@pytest.mark.dataflow  # starts a Python subprocess
def test_a_viewer_that_dies_at_start_switches_the_view_off_with_its_reason(tmp_path: Path) -> None:
    logs: list[str] = []
    says = "print('\\x1b[31mError\\x1b[0m: no texture format R32Float. Check the troubleshooting guide at x')"
    dies = [sys.executable, "-c", f"import sys; {says}; sys.exit(3)"]
    view = LiveView(
        "spawn", None, log=logs.append, port=free_port(), viewer_cmd=dies, viewer_log=tmp_path / "v.log"
    )
    sim = ScriptedSim()
    t0 = time.monotonic()
    for _ in range(50):
        view.frame(sim.tick(), recording=True, saved=0)
    assert time.monotonic() - t0 < 1.0, "frames are handed over without waiting for the viewer"
    assert _wait(lambda: view.off_reason is not None), logs
    view.close()
    off = [m for m in logs if m.startswith("live view off")]
    assert len(off) == 1, logs
    assert "exited at start (code 3): Error: no texture format R32Float" in off[0]
    assert "RECORD_RERUN=save" in off[0]


def test_a_stalled_viewer_never_blocks_the_caller(mute_listener: int) -> None:
    """A real rerun stream to a viewer that reads nothing: frames return at once, close is bounded."""
    logs: list[str] = []
    view = LiveView("spawn", None, log=logs.append, port=mute_listener, stall_s=1.0)
    sim = ScriptedSim()
    worst = 0.0
    for _ in range(100):
        t0 = time.monotonic()
        view.frame(sim.tick(), recording=True, saved=0)
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.01)
    t0 = time.monotonic()
    view.close(timeout_s=3.0)
    assert time.monotonic() - t0 < 6.0
    assert worst < 0.2, f"a frame call took {worst:.2f} s"
    assert any("already open" in m for m in logs), logs  # the port was taken: reused, no viewer started
    assert view.stuck and view.off_reason is not None, logs  # nothing could be flushed to it


def test_a_call_that_hangs_is_detected_and_later_frames_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    calls: list[int] = []

    def hanging(rr, rec, tick, frame, recording, saved) -> None:
        calls.append(tick)
        release.wait(30)

    monkeypatch.setattr(live_view, "_log_frame", hanging)
    logs: list[str] = []
    view = LiveView("save", str(tmp_path / "x.rrd"), log=logs.append, stall_s=0.5, queue_size=2)
    sim = ScriptedSim()
    view.frame(sim.tick(), recording=True, saved=0)
    assert _wait(lambda: len(calls) == 1)
    for _ in range(3):  # the queue (2) fills behind the hung call: the third is dropped, said once
        view.frame(sim.tick(), recording=True, saved=0)
    assert view.dropped == 1 and sum("cannot keep up" in m for m in logs) == 1, logs
    time.sleep(0.6)
    t0 = time.monotonic()
    view.frame(sim.tick(), recording=True, saved=0)  # the watchdog notices the call busy > stall_s
    assert time.monotonic() - t0 < 0.1
    assert view.stuck and "stalled" in (view.off_reason or ""), logs
    view.frame(sim.tick(), recording=True, saved=0)
    view.close(timeout_s=0.5)
    assert len(calls) == 1 and sum(m.startswith("live view off") for m in logs) == 1, logs
    release.set()
