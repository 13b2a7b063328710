"""The terminal backend: keys read from the terminal `dora run` (or `sim-teleop`) was started in.

Measured with dora-rs 1.1 (`dora run` under a pty, 2026-12-06): a node stays in the terminal's session
and can open /dev/tty, but dora starts each node in a process group of its own, so the node is in the
background: reading the terminal stops it with SIGTTIN and changing its modes with SIGTTOU. Joining
dora's foreground group instead works for the keys but hides the node from dora's stop escalation
(dora signals the node's original group: "failed to send SIGTERM ... No such process", and the node is
orphaned). So this node makes its own group the terminal's foreground while it reads, with ISIG off,
and passes Ctrl-C on to the group that had the foreground (dora run and the `sim-teleop` console);
dora still stops it the usual way. On the way out the modes and the foreground go back, on every path
that runs Python (STOP, Esc, Ctrl-C, SIGTERM, an exception); a closed terminal (SIGHUP, EIO)
stops the recording as Esc does; only a SIGKILL leaves the
terminal raw (`stty sane`).

Modes: like cbreak (no line buffering, no echo) but with OPOST/ONLCR kept, so the dataflow's console
lines still return the carriage, IXON off (Ctrl-S would freeze everyone's output) and TOSTOP off (dora,
now in the background, keeps printing). The kitty keyboard protocol is switched on when the terminal
answers its query before the device-attributes reply (0.5 s at most): then keys come with press and
release; otherwise holds are inferred from auto-repeat (`keys.repeat`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import termios
import threading
import time
from collections.abc import Callable
from typing import Any

from sim_teleop.control.keys.feed import LEGEND, TerminalFeed
from sim_teleop.control.teleop import KeyboardTeleop

TTY = "/dev/tty"
KITTY_FLAGS = 1 | 2 | 8  # disambiguate, report press/repeat/release, all keys as escape codes
QUERY = b"\x1b[?u\x1b[c"  # kitty flags query, then primary device attributes (every terminal answers)
NEGOTIATE_S = 0.5


def open_terminal(path: str = TTY) -> int:
    """The controlling terminal, open; RuntimeError saying why not."""
    try:
        return os.open(path, os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        raise RuntimeError(f"no controlling terminal ({exc.strerror})") from None


def foreground_owner(fd: int) -> int:
    """The process group in the terminal's foreground; RuntimeError when dora run is not it (started
    in the background with `&`, or from a service that merely inherited the terminal)."""
    fg = os.tcgetpgrp(fd)
    if fg != os.getpgid(os.getppid()):
        raise RuntimeError("dora run is not in the terminal's foreground")
    return fg


def controlling_tty() -> int | None:
    """The controlling terminal's device number (Linux: /proc/self/stat), None where unknown."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[4])
    return None


def parents_terminal() -> str | None:
    """The terminal dora run reads (its stdin), e.g. /dev/pts/3, when it is this node's controlling
    terminal; None when dora run's input is elsewhere. Without /proc (macOS): /dev/tty."""
    tty_nr = controlling_tty()
    if tty_nr is None:
        return TTY
    stdin = f"/proc/{os.getppid()}/fd/0"
    with contextlib.suppress(OSError):
        if os.stat(stdin).st_rdev == tty_nr:
            return os.readlink(stdin)
    return None


def raw_modes(saved: list[Any]) -> list[Any]:
    """cbreak-like: keys one by one, no echo, no signals from keys; output processing kept."""
    mode = [*saved[:6], list(saved[6])]
    mode[0] &= ~(termios.IXON | termios.ICRNL)
    mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN | termios.TOSTOP)
    mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
    return mode


class TerminalKeys:
    """Owns the terminal while the keyboard node runs; a reader thread feeds a `TerminalFeed`."""

    name = "terminal"
    discard_key = "x"

    def __init__(self, teleop: KeyboardTeleop, path: str = TTY, clock: Callable[[], float] = time.monotonic):
        self.teleop = teleop
        self.clock = clock
        self.fd = open_terminal(path)
        self.tty = (parents_terminal() or TTY) if path == TTY else path
        self._owner = foreground_owner(self.fd)
        self._saved = termios.tcgetattr(self.fd)
        self.feed = TerminalFeed(teleop, self._interrupt)
        self.feed.decoder.interrupt = self._saved[6][termios.VINTR][0]
        self.kitty = False
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._restored = False
        self._thread = threading.Thread(target=self._run, name="terminal-keys", daemon=True)
        self.lost: str | None = None  # why the terminal went away mid-run

    @property
    def legend(self) -> tuple[str, ...]:
        how = (
            "press and release from the kitty protocol"
            if self.kitty
            else "releases inferred from auto-repeat"
        )
        return (f"{LEGEND[0][:-1]}; {how}):" if self.kitty else LEGEND[0], *LEGEND[1:])

    def start(self) -> TerminalKeys:
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # tcsetpgrp from the background
        os.tcsetpgrp(self.fd, os.getpgrp())
        atexit.register(self.stop)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_hangup)
        termios.tcsetattr(self.fd, termios.TCSANOW, raw_modes(self._saved))
        self.kitty = self._negotiate()
        self.feed.decoder.kitty = self.kitty
        if self.kitty:
            os.write(self.fd, f"\x1b[>{KITTY_FLAGS}u".encode())
        self._thread.start()
        return self

    def stop(self) -> None:
        """Give the terminal back as it was (idempotent; also from atexit and signal handlers)."""
        if self._restored:
            return
        self._restored = True
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)
        with contextlib.suppress(OSError, termios.error):
            if self.kitty:
                os.write(self.fd, b"\x1b[<u")
            termios.tcsetattr(self.fd, termios.TCSAFLUSH, self._saved)
        with contextlib.suppress(OSError):
            os.tcsetpgrp(self.fd, self._owner)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stop()
        raise SystemExit(128 + signum)

    def _on_hangup(self, _signum: int, _frame: Any) -> None:
        self.stop()
        self._hang_up()

    def _interrupt(self) -> None:
        """Ctrl-C: to the group that had the foreground, as the terminal would have sent it."""
        with contextlib.suppress(OSError):
            os.killpg(self._owner, signal.SIGINT)

    def _negotiate(self) -> bool:
        """Ask for the kitty protocol's flags; only a terminal that speaks it answers before DA1."""
        os.write(self.fd, QUERY)
        deadline = self.clock() + NEGOTIATE_S
        kitty, pending = False, b""
        while (left := deadline - self.clock()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                break
            pending += os.read(self.fd, 1024)
            replies = self.feed.decoder.feed(pending, self.clock())
            pending = b""
            kitty = kitty or any(k.kind == "reply-kitty" for k in replies)
            if any(k.kind == "reply-da" for k in replies):
                break
        return kitty

    def _run(self) -> None:
        while not self._stop.is_set():
            deadline = self.feed.deadline()
            timeout = None if deadline is None else max(0.0, deadline - self.clock())
            try:
                ready, _, _ = select.select([self.fd, self._wake_r], [], [], timeout)
                data = os.read(self.fd, 1024) if self.fd in ready else None
            except OSError as exc:  # the terminal was closed (EIO)
                data, self.lost = b"", exc.strerror or "closed"
            if data == b"":
                self._hang_up()
                return
            if data:
                self.feed.feed(data, self.clock())
            self.feed.tick(self.clock())

    def _hang_up(self) -> None:
        """The terminal went away: stop as Esc would (a finished attempt is kept)."""
        self.lost = self.lost or "closed"
        self.teleop.press("esc")
        self.teleop.release("esc")
