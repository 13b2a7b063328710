"""A virtual X display for the keyboard tests and the human-like driver (pynput and xdotool need one)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def _free(number: int) -> bool:
    return not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists()


def start_xvfb(first: int = 90, last: int = 200) -> tuple[subprocess.Popen, str]:
    """Xvfb on the first free display number from `first`; (process, DISPLAY value).

    Two test workers may pick the same free number at once: the loser's Xvfb exits at start, and the
    next number is tried, so parallel tests never share or lose a display. RuntimeError when none starts.
    """
    for number in range(first, last):
        if not _free(number):
            continue
        proc = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while proc.poll() is None and not Path(f"/tmp/.X11-unix/X{number}").exists():
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.05)
        time.sleep(0.1)  # another server that owns the socket makes ours exit at once
        if proc.poll() is None:
            return proc, f":{number}"
    raise RuntimeError(f"no Xvfb display could be started on :{first}..:{last - 1}")
