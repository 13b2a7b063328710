"""Keyboard backends without a person: auto-repeat release inference on a fake clock (against the
X11 path's real press/release), the terminal decoder, the kitty protocol, evdev from recorded events,
and how auto picks a backend."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from keyboard_sim import FRAME, Clock, delivered_late, repeat_stream, through_terminal, through_x11
from terminal_session import TerminalSession

from sim_teleop.control.keys import choose
from sim_teleop.control.keys.decode import Key, TerminalDecoder
from sim_teleop.control.keys.evdev_keys import EVENT, EvdevKeys, apply_events, keyboards
from sim_teleop.control.keys.feed import TerminalFeed
from sim_teleop.control.keys.repeat import Hold, Press, RepeatTracker
from sim_teleop.control.keys.x11 import x11_unusable
from sim_teleop.control.teleop import SPEED, KeyboardTeleop
from sim_teleop.messages import Control

ONE_FRAME = SPEED * FRAME
HOLDS = [  # (key, down, up): holds past the repeat delay, a tap, two taps, a short hold
    ("right", 1.0, 1.75),
    ("up", 2.0, 4.5),
    ("left", 5.0, 5.08),
    ("down", 6.0, 6.8),
    ("right", 7.0, 7.1),
    ("right", 7.4, 7.5),
    ("left", 8.0, 8.9),
]


def _frames_off(terminal: np.ndarray, x11: np.ndarray) -> float:
    """The largest final-target difference, in frames of motion."""
    return float(np.abs(terminal[-1, :3] - x11[-1, :3]).max() / ONE_FRAME)


@pytest.mark.parametrize("interval", [0.025, 0.033, 0.05])
@pytest.mark.parametrize("delay", [0.25, 0.5, 0.66])
def test_holds_and_taps_move_as_far_as_with_real_releases(delay: float, interval: float) -> None:
    for name, down, up in HOLDS:
        terminal, _ = through_terminal(repeat_stream([(name, down, up)], delay, interval), 10.0)
        assert _frames_off(terminal, through_x11([(name, down, up)], 10.0)) < 1.0, (name, down, up)
    terminal, _ = through_terminal(repeat_stream(HOLDS, delay, interval), 10.0)
    assert _frames_off(terminal, through_x11(HOLDS, 10.0)) < 1.0


@pytest.mark.parametrize("seed", range(10))
def test_a_loaded_machine_that_delivers_repeats_late(seed: int) -> None:
    """30 % of the characters read up to 80 ms late, in bursts after each stall."""
    chars = delivered_late(repeat_stream(HOLDS), most=0.08, seed=seed)
    assert chars != repeat_stream(HOLDS)
    terminal, _ = through_terminal(chars, 10.0)
    assert _frames_off(terminal, through_x11(HOLDS, 10.0)) < 1.0


def test_late_motion_is_paid_out_never_one_jump() -> None:
    """The first repeat comes 0.5 s after the press: the held time before it is added at 2x speed."""
    terminal, _ = through_terminal(repeat_stream([("up", 1.0, 3.0)]), 4.0)
    steps = np.abs(np.diff(terminal[:, 1]))
    assert steps.max() <= 2 * ONE_FRAME + 1e-6
    assert terminal[-1, 1] == pytest.approx(0.2, abs=ONE_FRAME)


def test_tracker_tells_taps_from_holds_and_repeats_press_once() -> None:
    t = RepeatTracker()
    assert t.key("space", 0.0) == [Press("space"), Hold("space", 0.0, 0.1)]
    assert t.key("space", 0.5) == []  # a second character: a repeat or a second tap, not known yet
    assert t.expire(0.6) == []
    assert t.expire(0.75) == [Press("space"), Hold("space", 0.5, 0.6)]  # nothing followed: a second tap
    assert t.key("space", 1.2) == []  # the first repeat of a hold
    held = t.key("space", 1.233)
    assert len(held) == 1 and isinstance(held[0], Hold)  # confirmed: no new press, a hold from 0.6
    assert held[0].start == pytest.approx(0.6)
    more = t.key("space", 1.266)
    assert isinstance(more[-1], Hold) and more[-1].until == pytest.approx(1.266 + 0.033 / 2)
    assert t.expire(1.6) == [] and t.deadline() is None  # released: nothing more to decide


def test_space_held_and_control_letters_act_once() -> None:
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    feed = TerminalFeed(teleop)
    for t, data in repeat_stream([("space", 0.0, 1.5)]):
        feed.feed(b" " if data == "space" else data.encode(), t)
    feed.tick(3.0)
    feed.feed(b"x", 3.0)
    feed.feed(b"\x7f", 4.0)
    feed.feed(b"\x1b", 5.0)
    feed.tick(5.2)
    assert teleop.controls() == [Control.NEXT, Control.RERECORD, Control.RERECORD, Control.STOP]


def test_gripper_toggles_and_letters_move_z() -> None:
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    feed = TerminalFeed(teleop)
    feed.feed(b"g", 0.0)
    clock.t = 0.1
    assert teleop.action()[3] == 1.0
    feed.feed(b"r", 0.2)  # a tap up; f is down
    feed.feed(b"f", 0.5)
    feed.feed(b"r", 0.8)
    feed.tick(2.0)
    clock.t = 2.0
    a = teleop.action()
    assert a[2] == pytest.approx(ONE_FRAME) and a[3] == 1.0
    feed.feed(b"g", 2.1)
    clock.t = 2.2
    assert teleop.action()[3] == 0.0


def test_esc_alone_and_escape_sequences() -> None:
    d = TerminalDecoder()
    assert d.feed(b"\x1b[C\x1bOA\x1b[1;2D\x1b[5~", 0.0) == [
        Key("right", "typed"),
        Key("up", "typed"),
        Key("left", "typed"),
        Key("page_up", "typed"),
    ]
    assert d.feed(b"\x1b", 1.0) == [] and d.flush(1.05) == []  # may still be a sequence's start
    assert d.feed(b"[B", 1.06) == [Key("down", "typed")]  # it was
    assert d.feed(b"\x1b", 2.0) == [] and d.flush(2.1) == [Key("esc", "typed")]  # Esc itself
    assert d.feed(b"\x03", 3.0) == [Key("interrupt", "typed")]


def test_kitty_protocol_press_and_release() -> None:
    """A terminal with the kitty protocol: real releases, Shift and Super alone, Ctrl-C still stops."""
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    stops: list[bool] = []
    feed = TerminalFeed(teleop, on_interrupt=lambda: stops.append(True))
    feed.decoder.kitty = True

    def at(t: float, data: bytes) -> None:
        clock.t = t
        feed.feed(data, t)

    at(0.0, b"\x1b[1;1:1C")  # Right pressed
    at(0.6, b"\x1b[1;1:2C" * 10)  # repeats: nothing new
    at(1.25, b"\x1b[1;1:3C")  # released
    at(2.0, b"\x1b[57447u\x1b[57444u")  # Right Shift and Super pressed
    at(2.5, b"\x1b[57447;1:3u")
    clock.t = 3.0
    a = teleop.action()
    np.testing.assert_allclose(a, [1.25 * SPEED, 0.0, 0.5 * SPEED, 1.0], atol=1e-6)
    at(3.1, b"\x1b[57444;1:3u\x1b[57442u\x1b[57442;5:3u\x1b[99;5u")
    clock.t = 3.2
    assert teleop.action()[3] == 0.0
    assert teleop.controls() == [Control.RERECORD] and stops == [True]


def _events(*rows: tuple[int, int, int]) -> bytes:
    return b"".join(EVENT.pack(1, 0, kind, code, value) for kind, code, value in rows)


# Recorded with evtest on a USB keyboard: Right held (press, kernel repeats, release), with the
# SYN_REPORT and MSC_SCAN events a keyboard sends around each key event.
RIGHT_HELD = _events((4, 4, 0x7004F), (1, 106, 1), (0, 0, 0), (1, 106, 2), (0, 0, 1), (1, 106, 2), (0, 0, 1))
RIGHT_UP = _events((4, 4, 0x7004F), (1, 106, 0), (0, 0, 0))


def test_evdev_recorded_events() -> None:
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    tail = apply_events(teleop, RIGHT_HELD[:-5])  # a read may end mid-event
    assert len(tail) == EVENT.size - 5
    apply_events(teleop, tail + RIGHT_HELD[-5:])
    clock.t = 0.7
    apply_events(teleop, RIGHT_UP + _events((1, 54, 1), (1, 125, 1), (1, 1, 1), (1, 1, 0)))
    clock.t = 1.0
    a = teleop.action()
    np.testing.assert_allclose(a, [0.7 * SPEED, 0.0, 0.3 * SPEED, 1.0], atol=1e-6)
    assert teleop.controls() == [Control.STOP]


def test_evdev_backend_reads_an_event_file_with_real_timing(tmp_path: Path) -> None:
    """The backend's reader thread on a FIFO carrying a held key: moves as far as the X11 path."""
    fifo = tmp_path / "event0"
    os.mkfifo(fifo)
    teleop = KeyboardTeleop()
    keys = EvdevKeys(teleop, [str(fifo)]).start()
    with open(fifo, "wb", buffering=0) as device:
        device.write(_events((1, 103, 1)))
        time.sleep(0.5)
        device.write(_events((1, 103, 0)))
        time.sleep(0.2)
    keys.stop()
    assert teleop.action()[1] == pytest.approx(0.5 * SPEED, abs=0.2 * ONE_FRAME)


def test_evdev_not_permitted_names_the_group(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    device = tmp_path / "event3"
    device.write_bytes(b"")
    monkeypatch.setattr(os, "access", lambda *_: False)
    with pytest.raises(
        RuntimeError, match=r"not permitted to read .*event3: join the group '\w+' \(sudo usermod"
    ):
        keyboards([str(device)])
    with pytest.raises(RuntimeError, match="no input devices"):
        keyboards([])


def test_auto_picks_x11_with_a_display_that_answers(xvfb: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "SSH_CONNECTION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DISPLAY", xvfb)
    keys, why = choose.open_keys("auto", KeyboardTeleop())
    keys.stop()
    assert (keys.name, why) == ("x11", "auto: an X server answers")
    assert x11_unusable({"DISPLAY": ":987"}) == "no X server answers on DISPLAY=:987"
    assert "Wayland" in str(x11_unusable({"DISPLAY": xvfb, "WAYLAND_DISPLAY": "wayland-0"}))
    assert "SSH" in str(x11_unusable({"DISPLAY": "localhost:10.0", "SSH_CONNECTION": "1 2 3 4"}))


def test_auto_picks_the_terminal_without_a_display(tmp_path: Path) -> None:
    """A shell in a pseudo-terminal runs what the node runs: auto says terminal, and why."""
    script = (
        "from sim_teleop.control.keys.choose import open_keys\n"
        "from sim_teleop.control.teleop import KeyboardTeleop\n"
        "keys, why = open_keys('auto', KeyboardTeleop())\n"
        "keys.stop()\n"
        "print('PICKED', keys.name, keys.tty, why)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    term = TerminalSession(["sh", "-c", f'"{sys.executable}" -c "{script}"'], env, tmp_path, tmp_path / "out")
    try:
        assert term.proc.wait(timeout=60) == 0, term.text()
        time.sleep(0.3)
        text = term.text()
        assert term.modes() == term.original
    finally:
        term.close()
    assert "PICKED terminal /dev/pts/" in text and "auto: no X display (DISPLAY is not set)" in text, text


@pytest.mark.dataflow  # starts a Python subprocess
def test_no_terminal_and_no_display_is_one_line() -> None:
    """A service or CI: no DISPLAY, no controlling terminal, no /dev/input keyboard."""
    code = (
        "from sim_teleop.control.keys.choose import open_keys\n"
        "from sim_teleop.control.teleop import KeyboardTeleop\n"
        "open_keys('auto', KeyboardTeleop())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=60,
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: no X display (DISPLAY is not set); no controlling terminal"), last


def test_reader_thread_stops(tmp_path: Path) -> None:
    """stop() ends the evdev reader even with no events coming."""
    fifo = tmp_path / "event1"
    os.mkfifo(fifo)
    keys = EvdevKeys(KeyboardTeleop(), [str(fifo)]).start()
    keys.stop()
    assert not any(t.name == "evdev-keys" for t in threading.enumerate())
