"""Publishing a staged episode: one atomic exchange switches what every reader sees, lerobot's included.

Why: lerobot 0.6.1 loads every parquet file under `data/` and `meta/episodes/`, whatever `info.json`
counts, so moving an episode's files into the root one by one (info.json last) let a reader between two
renames see the uncommitted episode's rows (measured: 8 of 22 kills left `hf_dataset` with 43-49 rows
`meta.total_frames` did not count). So a commit builds the next version of the whole root beside it,
`<parent>/.<name>.next`: every committed file hard-linked (no data copied), the stage's new and rewritten
files moved in, the sidecar written there. Then one `renameat2(RENAME_EXCHANGE)` swaps it with the root:
the only step a reader can see. The old version, now at `.<name>.next`, is deleted.

A kill before the exchange leaves the root as it was plus a partial `.next`; a kill after it leaves the
new root whole plus the old version at `.next`. Either way the root holds exactly the committed
episodes, and `repair` only deletes `.next`.

The stage `<root>/.recorder/stage` is where the episode's own lerobot session writes (see `store`): a
copy of the root's metadata, the committed episodes' files hard-linked, the three mutable ones copied.
"""

from __future__ import annotations

import ctypes
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from sim_teleop.dataset.journal import JOURNAL_DIR, STAGE
from sim_teleop.dataset.reader import INFO

MUTABLE = ("meta/stats.json", "meta/tasks.parquet", INFO)
"""Files lerobot rewrites in place in a resumed session: the stage gets copies, not links."""
ADDED_UNDER = ("data", "meta/episodes", "videos")
"""Where a commit adds files (one data, one episodes-metadata and one video file per camera)."""

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def pending_path(root: Path) -> Path:
    """Where the next version of `root` is built (and the old one lies until it is deleted)."""
    root = Path(root).resolve()
    return root.with_name(f".{root.name}.next")


def aside_path(root: Path) -> Path:
    """Where `exchange` puts `root` for a moment on a system without an atomic exchange."""
    root = Path(root).resolve()
    return root.with_name(f"{root.name}.original")


def exchange(a: Path, b: Path) -> None:
    """Swap two directories atomically (Linux renameat2); three renames where that is unavailable, which
    leave `a` missing for a moment (`a` at `aside_path(a)`; `recover_exchange(a)` puts it back)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        renameat2 = None
    if renameat2 is not None:
        rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: fall back below
            raise OSError(err, os.strerror(err), str(a))
    aside = aside_path(a)
    os.replace(a, aside)  # a kill right here leaves both copies beside each other, none lost
    os.replace(b, a)
    os.replace(aside, b)


def recover_exchange(root: Path) -> bool:
    """Put `root` back after the fallback exchange was killed half-way; True if it did."""
    aside = aside_path(root)
    if Path(root).exists() or not aside.exists():
        return False
    os.replace(aside, root)
    return True


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a filesystem without hard links
        shutil.copy2(src, dst)


def listed_files(root: Path) -> list[str]:
    """The files a commit may add, relative to `root`."""
    files = []
    for sub in ADDED_UNDER:
        base = root / sub
        if base.is_dir():
            files += [p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file()]
    return sorted(files)


def prepare_stage(root: Path, create: bool) -> Path:
    """A fresh stage for the next episode's lerobot session: the root's metadata, nothing else.

    The committed episodes' metadata files are hard-linked (lerobot reads them to number the next
    files and never rewrites them in a resumed session); the three mutable files are copied, because
    lerobot rewrites them in place. For a new dataset the stage does not exist: `create()` makes it.
    """
    stage = root / JOURNAL_DIR / STAGE
    if stage.exists():
        shutil.rmtree(stage)
    if create:
        stage.parent.mkdir(parents=True, exist_ok=True)
        return stage
    for src in sorted((root / "meta").rglob("*")):
        rel = src.relative_to(root).as_posix()
        if not src.is_file() or not (rel in MUTABLE or rel.startswith("meta/episodes/")):
            continue
        dst = stage / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel in MUTABLE:
            shutil.copy2(src, dst)
        else:
            _link_or_copy(src, dst)
    return stage


def _link_committed(root: Path, tree: Path) -> set[str]:
    """Hard-link every file of the root (not the writer's `.recorder`, not temp dirs) into `tree`."""
    linked: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root)
        if here == root:
            dirnames[:] = [d for d in dirnames if d != JOURNAL_DIR and not is_temp_dir(root / d)]
        (tree / rel_dir).mkdir(exist_ok=True)
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            _link_or_copy(here / name, tree / rel)
            linked.add(rel)
    return linked


def is_temp_dir(path: Path) -> bool:
    """A leftover of an interrupted episode: the streaming encoder's mkdtemp dir or PNG staging with
    frames in it. LeRobot's own writer leaves `images/<camera>/` empty after a finished episode: a
    dataset it wrote is whole."""
    if not path.is_dir():
        return False
    if path.name.startswith("tmp"):
        return True
    return path.name == "images" and any(p.is_file() for p in path.rglob("*"))


def publish(
    root: Path,
    before_visible: Callable[[Path], None] | None = None,
    step: Callable[[str], None] | None = None,
) -> list[str]:
    """Make the episode finalized in the stage part of the dataset, in one atomic step (module doc).

    `before_visible(tree)` runs when the next version `tree` is complete but not yet the root (the
    recorder writes its sidecar record into it); `step(name)` runs after each step (tests stop there).
    Returns the files the episode added or changed.
    """
    root = Path(root).resolve()
    stage = root / JOURNAL_DIR / STAGE
    tree = pending_path(root)
    if tree.exists():
        shutil.rmtree(tree)  # a version a killed commit left half built
    tree.mkdir()
    have = _link_committed(root, tree)
    _mark(step, "linked")
    moved = []
    for rel in [*listed_files(stage), *MUTABLE]:
        if (rel in have and rel not in MUTABLE) or not (stage / rel).exists():
            continue  # a hard link of a committed file, or a mutable file this session did not write
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, tree / rel)
        moved.append(rel)
        _mark(step, rel)
    if before_visible is not None:
        before_visible(tree)
        _mark(step, "before_visible")
    exchange(root, tree)  # the commit: readers see the old version before, the new one after
    _mark(step, "exchanged")
    _keep_written_meanwhile(tree, root)
    shutil.rmtree(tree)  # the old version, with the writer's stage in it
    return moved


def _keep_written_meanwhile(old: Path, root: Path) -> None:
    """Files another program put at the root's top level while this commit built the next version move
    over (the eval's `eval_summary.json`, written as its last episode commits, was lost with the old
    version); the dataset's own files are all below `data/`, `meta/` and `videos/`."""
    for entry in old.iterdir():
        if entry.is_file() and not (root / entry.name).exists():
            os.replace(entry, root / entry.name)


def _mark(step: Callable[[str], None] | None, name: str) -> None:
    if step is not None:
        step(name)
