"""A person at a terminal, for tests: `dora run` (or any command) started in a new session whose
controlling terminal is a pseudo-terminal; the test types into its master side (auto-repeat
included) and reads everything printed to it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import subprocess
import termios
import threading
import time
from pathlib import Path

ARROWS = {"up": b"\x1b[A", "down": b"\x1b[B", "right": b"\x1b[C", "left": b"\x1b[D"}


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class TerminalSession:
    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.master, slave = os.openpty()
        self.original = termios.tcgetattr(slave)
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
        self.slave = slave  # kept open: the terminal's modes stay readable after the command ends
        self.log = log
        self._out = log.open("wb")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self.master >= 0:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.2)
            except (OSError, ValueError):  # hung up
                return
            if not ready:
                if self.proc.poll() is not None:
                    return
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            self._out.write(data)
            self._out.flush()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def type(self, data: bytes, pause: float = 0.5) -> None:
        os.write(self.master, data)
        time.sleep(pause)

    def hold(self, key: bytes, seconds: float, delay: float = 0.5, interval: float = 0.033) -> float:
        """What a terminal sends while a key is held: the key, then after `delay` every `interval`.
        Returns how late its latest-written character went out (s): a loaded machine wakes this writer
        late, and a terminal's characters carry no time stamp, so that lateness is part of what the
        keyboard node sees."""
        start = time.monotonic()
        os.write(self.master, key)
        late = 0.0
        next_at = start + delay
        while next_at < start + seconds:
            time.sleep(max(0.0, next_at - time.monotonic()))
            os.write(self.master, key)
            late = max(late, time.monotonic() - next_at)
            next_at += interval
        time.sleep(max(0.0, start + seconds - time.monotonic()))
        return late

    def modes(self) -> list:
        return termios.tcgetattr(self.slave)

    def hang_up(self) -> None:
        """Close the terminal, as closing its window does (SIGHUP to the session)."""
        os.close(self.master)
        self.master = -1

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                if fd >= 0:
                    os.close(fd)
        self._reader.join(timeout=2)
        self._out.close()
