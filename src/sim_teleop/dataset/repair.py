"""Tidying a root a killed writer left behind; never a precondition for reading it.

Since commits switch the root in one atomic exchange (`publish`), a kill leaves the root whole, with
exactly its committed episodes, plus leftovers beside or inside it: the half-built or old version
`.<name>.next`, the writer's stage `<root>/.recorder/stage`, the streaming encoder's temp dirs. `repair()`
deletes them. A root left by an older recorder, which renamed files in one by one under a journal
(`<root>/.recorder/commit.json` with backups of the mutable files), is still rolled back to its last
finished commit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sim_teleop.dataset.journal import BACKUP, JOURNAL, JOURNAL_DIR, STAGE
from sim_teleop.dataset.publish import (
    MUTABLE,
    aside_path,
    is_temp_dir,
    listed_files,
    pending_path,
    recover_exchange,
)


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
    return [p for p in root.iterdir() if is_temp_dir(p)]


def holds_nothing_saved(root: Path) -> bool:
    """root exists but only holds the stage of a first episode that was never published."""
    if not root.is_dir() or (root / JOURNAL_DIR / JOURNAL).exists():
        return False
    entries = list(root.iterdir())
    return bool(entries) and all(p.name == JOURNAL_DIR or p in temp_dirs(root) for p in entries)


def needs_repair(root: Path) -> bool:
    if not root.exists():
        return aside_path(root).exists()  # the fallback exchange was killed half-way
    jdir = root / JOURNAL_DIR
    return (jdir.is_dir() and any(jdir.iterdir())) or bool(temp_dirs(root)) or pending_path(root).exists()


def repair(root: str | Path) -> RepairReport:
    """Bring a dataset left by a killed recorder to its last finished commit (idempotent).

    Deletes what a killed commit left (module doc). A legacy journal is rolled back in an order that
    keeps the root loadable throughout: info.json first, then the other mutable files, then the files
    it added. It only renames and deletes, so it needs no free space, and a repair that is itself
    interrupted leaves a loadable root that the next repair finishes.
    """
    root = Path(root)
    report = RepairReport()
    if recover_exchange(root):
        report.restored.append(f"{root.name} (from an interrupted exchange)")
    if pending_path(root).exists():
        shutil.rmtree(pending_path(root))
        report.removed.append(pending_path(root).name)
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
    for sub in ("data", "meta/episodes", "videos"):  # empty chunk directories left by a rolled-back commit
        _remove_empty_dirs(root / sub)
    return report


def _roll_back(root: Path, journal: dict, report: RepairReport) -> None:
    """Undo the publish `journal` describes: mutable files back from the backup (info.json first), then
    the files it added removed."""
    backup = root / JOURNAL_DIR / BACKUP
    for rel in reversed(MUTABLE):
        if rel in journal["mutable"]:
            if (backup / rel).exists():  # else restored by an earlier, interrupted repair
                os.replace(backup / rel, root / rel)  # a rename: works on a full disk too
            report.restored.append(rel)
        elif (root / rel).exists():
            (root / rel).unlink()
            report.removed.append(rel)
    before = set(journal["files"])
    for rel in listed_files(root):
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
