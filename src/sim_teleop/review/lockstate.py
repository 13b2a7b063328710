"""Whether a writer (a recorder, a dataset script) holds a root's lock, found without taking it.

Why not try the lock: a probe, even a shared non-blocking `flock` released at once, holds it for a
moment, and a recorder starting in that moment would refuse to start ("in use"). The page polls every
second, so it would collide sooner or later. The kernel lists every held flock in `/proc/locks` with
the file's device and inode: reading that list changes nothing. Where it cannot be read (not Linux),
the lock file's own text (pid, owner) is checked against the running processes, which can only be
wrong after a pid is reused. Either way a curation the page starts still takes the real lock, which
refuses at once if the check was wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sim_teleop.dataset.lock import lock_path

PROC_LOCKS = Path("/proc/locks")


def _flock_pids(dev: int, ino: int, text: str) -> list[int]:
    """Pids holding a FLOCK on the file (dev, ino) in /proc/locks' text (waiters, `->`, skipped)."""
    want = f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"
    pids = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK":  # "N: -> FLOCK ..." is a waiter, not a holder
            continue
        if parts[5] == want:
            pids.append(int(parts[4]))
    return pids


def _owner(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(owner: dict, pid: int | None) -> str:
    who = str(owner.get("owner", "another process"))
    pid = owner.get("pid", pid)
    since = f", since {owner['since']}" if "since" in owner else ""
    return f"{who} (pid {pid}{since})"


def _alive(pid: object) -> bool:
    """Whether the lock file's pid runs (and is not this process, which only locks to curate)."""
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(root: str | Path) -> str | None:
    """'a recorder (pid 123, since 10:00:00)' while some process holds root's lock, else None."""
    path = lock_path(root)
    try:
        st = path.stat()
    except OSError:
        return None  # no lock file: nobody has ever locked this root here
    owner = _owner(path)
    try:
        pids = _flock_pids(st.st_dev, st.st_ino, PROC_LOCKS.read_text())
    except OSError:
        return _describe(owner, None) if _alive(owner.get("pid")) else None
    return _describe(owner, pids[0]) if pids else None
