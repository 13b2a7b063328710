"""One writer per dataset root: an advisory lock that a recorder or a dataset script holds while it works.

Two recorders appending to one root interleave their commits (overlapping indices, sidecars from
different runs), and one's start-up repair or cleanup deletes the other's live files. So every tool that
writes a root takes this lock first and refuses at once, touching nothing, when another holds it.

The lock is `fcntl.flock` on a small file beside the root (`.<name>.lock` in its parent), because the
root itself may not exist yet (the recorder creates it at its first commit) and is deleted again when a
fresh run saves nothing. The kernel drops the lock when its process dies, SIGKILL included, so a crash
never leaves a stale lock; the file's text (pid, tool, start time) only serves the error message.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import IO


class RootInUse(RuntimeError):
    """Another process holds the root's lock; the text names it."""


def lock_path(root: str | Path) -> Path:
    root = Path(root).resolve()
    return root.parent / f".{root.name}.lock"


class RootLock:
    """`with RootLock(root, "recorder"):` ... ; raises RootInUse at once when the root is busy."""

    def __init__(self, root: str | Path, owner: str) -> None:
        self.root = Path(root)
        self.owner = owner
        self.path = lock_path(root)
        self._fh: IO[str] | None = None

    def acquire(self) -> RootLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 (held open for the lock's lifetime)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = _describe(fh.read())
            fh.close()
            raise RootInUse(
                f"{self.root} is in use by {holder}: refusing to start, nothing was touched "
                f"(wait for it to finish, or choose another root)"
            ) from None
        try:  # the holder's description only feeds the error message: a full disk must not stop us
            fh.seek(0)
            fh.truncate()
            me = {"pid": os.getpid(), "owner": self.owner, "since": time.strftime("%H:%M:%S")}
            fh.write(json.dumps(me))
            fh.flush()
        except OSError:
            pass
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RootLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _describe(text: str) -> str:
    try:
        info = json.loads(text)
        return f"{info['owner']} (pid {info['pid']}, since {info['since']})"
    except (ValueError, KeyError, TypeError):
        return "another process"
