"""Deleting episodes: in place (the original kept as a backup) or into a filtered copy at a new root.

Both go through lerobot's own `delete_episodes`, which always writes a new dataset: it is loaded and
checked (episode and frame counts) and the sidecar (quality reports, defect ground truth) is renumbered
into it the way lerobot renumbers episodes. In place, the original then moves to `<root>.bak-<time>`
(kept; delete it yourself) and the edited copy takes its place. Bad indices (not a list of integers,
duplicates, out of range, all episodes) are refused before anything is written; any failure leaves the
original untouched. The caller holds the root's `RootLock`. Used by `scripts/delete_episodes.py` and
the review page (`sim-teleop review`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from sim_teleop.dataset.reader import is_dataset, not_a_dataset, read_info
from sim_teleop.dataset.repair import needs_repair
from sim_teleop.dataset.sidecar import SIDECAR_RELPATH, EpisodeSidecar


class UsageError(ValueError):
    """The request cannot be done as asked; nothing was written."""


def parse_indices(text: str, total: int) -> list[int]:
    """`"[1, 3]"` -> [1, 3]; refuses anything but a non-empty list of distinct in-range integers."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise UsageError(f'--episode_indices {text!r}: expected a JSON list such as "[1, 3]"') from None
    if not isinstance(value, list) or not value:
        raise UsageError(f'--episode_indices {text!r}: expected a non-empty list such as "[1, 3]"')
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise UsageError(f"--episode_indices {text!r}: every index must be an integer")
    dupes = sorted({v for v in value if value.count(v) > 1})
    if dupes:
        raise UsageError(f"--episode_indices: duplicate indices {dupes}")
    bad = sorted(v for v in value if not 0 <= v < total)
    if bad:
        raise UsageError(f"--episode_indices: {bad} out of range; the dataset has episodes 0..{total - 1}")
    if len(value) == total:
        raise UsageError("--episode_indices: that would delete every episode; delete the directory instead")
    return sorted(value)


def checked_source(root: Path, indices_text: str) -> tuple[Path, int, list[int]]:
    """(resolved root, its episode count, the parsed indices), or UsageError before anything is read."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = Path(root).resolve()
    if not is_dataset(root):
        raise UsageError(not_a_dataset(root))
    if needs_repair(root):
        raise UsageError(f"{root} was left by an interrupted recording: run scripts/repair_dataset.py first")
    total = int(read_info(root)["total_episodes"])
    return root, total, parse_indices(indices_text, total)


def write_without(repo_id: str, root: Path, indices: list[int], out: Path) -> None:
    """A new dataset at `out` (must not exist): root without `indices`, checked, sidecar renumbered.
    On any failure `out` is removed and root is untouched."""
    from lerobot.datasets import LeRobotDataset
    from lerobot.datasets.dataset_tools import delete_episodes

    if out.exists():
        raise UsageError(f"{out} already exists: choose a new root for the copy")
    try:
        source = LeRobotDataset(repo_id, root=root)
        total = source.meta.total_episodes
        expected_frames = source.meta.total_frames - sum(
            int(source.meta.episodes[i]["length"]) for i in indices
        )
        delete_episodes(source, indices, output_dir=out, repo_id=repo_id)
        check = LeRobotDataset(repo_id, root=out)
        if check.meta.total_episodes != total - len(indices) or check.meta.total_frames != expected_frames:
            raise RuntimeError(
                f"edited copy has {check.meta.total_episodes} episodes / {check.meta.total_frames} frames, "
                f"expected {total - len(indices)} / {expected_frames}"
            )
        if (root / SIDECAR_RELPATH).exists():
            sidecar = EpisodeSidecar(root)  # read beside the info.json it matches, written into the copy
            sidecar.path = out / SIDECAR_RELPATH
            sidecar.delete_and_renumber(indices)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise


def delete_in_place(repo_id: str, root: Path, indices_text: str, log: Callable[[str], None] = print) -> Path:
    """Delete the episodes `indices_text` names (a JSON list) from root; returns the original's backup."""
    root, total, indices = checked_source(root, indices_text)
    work = root.with_name(f"{root.name}.deleting-{int(time.time())}")
    write_without(repo_id, root, indices, work)
    backup = root.with_name(f"{root.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
    if backup.exists():  # two deletes within one second
        backup = backup.with_name(f"{backup.name}-{time.monotonic_ns()}")
    os.replace(root, backup)
    os.replace(work, root)
    log(
        f"deleted episodes {indices} from {root}: {total - len(indices)} episodes left, renumbered 0.."
        f"{total - len(indices) - 1}; original kept at {backup}"
    )
    return backup


def copy_without(
    repo_id: str, root: Path, indices_text: str, out: Path, log: Callable[[str], None] = print
) -> int:
    """Write root without the episodes `indices_text` names to the new root `out`; root is only read.
    Returns the copy's episode count."""
    root, total, indices = checked_source(root, indices_text)
    write_without(repo_id, root, indices, Path(out).resolve())
    log(f"wrote {out}: {total - len(indices)} of {total} episodes (without {indices}); {root} unchanged")
    return total - len(indices)
