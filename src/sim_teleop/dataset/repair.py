"""Publishing a staged episode into the root crash-safely, and rolling an interrupted publish back.

The stage `<root>/.recorder/stage` starts as a copy of the root's metadata (episode files hard-linked,
the three small mutable ones copied); the writer (`store.EpisodeWriter`) finalizes one episode there.
Then `publish()` moves the episode's new files (data, episodes metadata, one video per camera; a
resumed session always starts new files) into the root with atomic renames, then `meta/stats.json` and
`meta/tasks.parquet`, and `meta/info.json` last. lerobot reads only the episodes `info.json` counts, so
at every instant the root loads with `LeRobotDataset` as it is: the old episodes until the final
rename, all of them after it.

The journal `<root>/.recorder/commit.json` (written before the first rename, removed after the last)
lists the root's files and keeps copies of the mutable ones, so `repair()` can roll an interrupted
publish back and drop the stage; resume does it itself. Repair is tidying, not a precondition for
reading.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sim_teleop.dataset.reader import BACKUP, INFO, JOURNAL, JOURNAL_DIR

STAGE = "stage"
_MUTABLE = ("meta/stats.json", "meta/tasks.parquet", INFO)  # published in this order: info.json last
_ADDED_UNDER = ("data", "meta/episodes", "videos")


def _listed_files(root: Path) -> list[str]:
    files = []
    for sub in _ADDED_UNDER:
        base = root / sub
        if base.is_dir():
            files += [p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file()]
    return sorted(files)


def _fsync_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def begin_commit(root: Path, num_episodes: int) -> list[str]:
    """Write the journal of a publish about to start (the root holds `num_episodes` finalized ones);
    returns the root's files it lists."""
    jdir = root / JOURNAL_DIR
    backup = jdir / BACKUP
    if backup.exists():
        shutil.rmtree(backup)
    for rel in _MUTABLE:
        src = root / rel
        if src.exists():
            dst = backup / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    files = _listed_files(root)
    journal = {
        "num_episodes": num_episodes,
        "files": files,
        "mutable": [rel for rel in _MUTABLE if (root / rel).exists()],
        "started": time.time(),
    }
    jdir.mkdir(parents=True, exist_ok=True)
    _fsync_write(jdir / JOURNAL, json.dumps(journal))
    return files


def end_commit(root: Path) -> None:
    """The publish is complete: drop the journal (the atomic point), then its backups and the stage."""
    jdir = root / JOURNAL_DIR
    (jdir / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(jdir / BACKUP, ignore_errors=True)
    shutil.rmtree(jdir / STAGE, ignore_errors=True)
    with contextlib.suppress(OSError):
        jdir.rmdir()


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
        if not src.is_file() or not (rel in _MUTABLE or rel.startswith("meta/episodes/")):
            continue
        dst = stage / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel in _MUTABLE:
            shutil.copy2(src, dst)
        else:
            try:
                os.link(src, dst)
            except OSError:  # a filesystem without hard links
                shutil.copy2(src, dst)
    return stage


def publish(
    root: Path,
    num_episodes: int,
    before_visible: Callable[[], None] | None = None,
    step: Callable[[str], None] | None = None,
) -> list[str]:
    """Move a finalized episode from the stage into the root; every step keeps the root loadable.

    New files first (lerobot ignores files that info.json does not count), then stats and tasks,
    then `before_visible()` (the recorder writes its sidecar record there), then info.json: the
    rename that makes the episode exist. `step(name)` runs after each step (tests kill there).
    Returns the files moved.
    """
    stage = root / JOURNAL_DIR / STAGE
    have = set(begin_commit(root, num_episodes))
    moved = []
    for rel in _listed_files(stage):
        if rel in have:
            continue  # a hard link of a committed file
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, dst)
        moved.append(rel)
        if step is not None:
            step(rel)
    for rel in _MUTABLE:
        if rel == INFO and before_visible is not None:
            before_visible()
            if step is not None:
                step("before_visible")
        if (stage / rel).exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, root / rel)
            moved.append(rel)
            if step is not None:
                step(rel)
    end_commit(root)
    return moved


@dataclass
class RepairReport:
    rolled_back: bool = False
    removed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    num_episodes: int | None = None

    def summary(self) -> str:
        parts = []
        if self.rolled_back:
            parts.append(
                f"rolled back an unfinished commit: removed {len(self.removed)} file(s), "
                f"restored {', '.join(self.restored) or 'nothing'}"
            )
        if self.removed and not self.rolled_back:
            parts.append(f"removed {len(self.removed)} leftover temp path(s)")
        return "; ".join(parts) or "nothing to repair"


def temp_dirs(root: Path) -> list[Path]:
    """Leftovers of an interrupted episode: the streaming encoder's mkdtemp dirs and PNG staging."""
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("tmp")]
    if (root / "images").is_dir():
        found.append(root / "images")
    return found


def holds_nothing_saved(root: Path) -> bool:
    """root exists but only holds the stage of a first episode that was never published."""
    if not root.is_dir() or (root / JOURNAL_DIR / JOURNAL).exists():
        return False
    entries = list(root.iterdir())
    return bool(entries) and all(p.name == JOURNAL_DIR or p in temp_dirs(root) for p in entries)


def needs_repair(root: Path) -> bool:
    jdir = root / JOURNAL_DIR
    return (jdir.is_dir() and any(jdir.iterdir())) or bool(temp_dirs(root))


def repair(root: str | Path) -> RepairReport:
    """Bring a dataset left by a killed recorder back to its last finished commit (idempotent).

    Rolls an interrupted publish back in an order that keeps the root loadable throughout: info.json
    first (the episode stops existing), then the other mutable files, then the files it added. It
    only renames and deletes, so it needs no free space, and a repair that is itself interrupted
    leaves a loadable root that the next repair finishes.
    """
    root = Path(root)
    report = RepairReport()
    journal_path = root / JOURNAL_DIR / JOURNAL
    if journal_path.exists():
        _roll_back(root, json.loads(journal_path.read_text()), report)
        journal_path.unlink()
    shutil.rmtree(root / JOURNAL_DIR / BACKUP, ignore_errors=True)
    if (root / JOURNAL_DIR / STAGE).exists():
        shutil.rmtree(root / JOURNAL_DIR / STAGE)
        report.removed.append(f"{JOURNAL_DIR}/{STAGE}")
    with contextlib.suppress(OSError):
        (root / JOURNAL_DIR).rmdir()
    for tmp in temp_dirs(root):
        shutil.rmtree(tmp, ignore_errors=True)
        report.removed.append(tmp.name)
    for sub in _ADDED_UNDER:  # empty chunk directories left by a rolled-back commit
        _remove_empty_dirs(root / sub)
    return report


def _roll_back(root: Path, journal: dict, report: RepairReport) -> None:
    """Undo the publish `journal` describes: mutable files back from the backup (info.json first), then
    the files it added removed."""
    backup = root / JOURNAL_DIR / BACKUP
    for rel in reversed(_MUTABLE):
        if rel in journal["mutable"]:
            if (backup / rel).exists():  # else restored by an earlier, interrupted repair
                os.replace(backup / rel, root / rel)  # a rename: works on a full disk too
            report.restored.append(rel)
        elif (root / rel).exists():
            (root / rel).unlink()
            report.removed.append(rel)
    before = set(journal["files"])
    for rel in _listed_files(root):
        if rel not in before:
            (root / rel).unlink()
            report.removed.append(rel)
    report.rolled_back = True
    report.num_episodes = int(journal["num_episodes"])


def _remove_empty_dirs(base: Path) -> None:
    if base.is_dir():
        for d in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if not any(d.iterdir()):
                d.rmdir()
