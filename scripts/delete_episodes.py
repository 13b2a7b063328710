"""Delete episodes from a recorded dataset in place, renumbering the rest contiguously.

    python scripts/delete_episodes.py --repo_id local/sim_teleop_pick \
        --root outputs/record/sim_teleop_pick --episode_indices "[41, 42]"

How: lerobot's own `delete_episodes` writes the edited dataset next to the root; it is loaded and
checked (episode and frame counts), the sidecar (quality reports, defect ground truth) is renumbered
the same way, then the original is moved to `<root>.bak-<time>` (kept; delete it yourself) and the
edited copy takes its place. Bad indices (not a list of integers, duplicates, out of range, all
episodes) are refused before anything is written; any failure leaves the original untouched.
A resumed recording (RESUME_RECORDING=1) continues after the last remaining episode.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sim_teleop.dataset.lock import RootInUse, RootLock
from sim_teleop.dataset.reader import is_dataset, not_a_dataset, read_info
from sim_teleop.dataset.repair import needs_repair
from sim_teleop.dataset.sidecar import SIDECAR_RELPATH, EpisodeSidecar


class UsageError(ValueError):
    pass


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


def delete_in_place(repo_id: str, root: Path, indices_text: str, log=print) -> Path:
    """Returns the backup path of the original dataset."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = root.resolve()
    if not is_dataset(root):
        raise UsageError(not_a_dataset(root))
    if needs_repair(root):
        raise UsageError(f"{root} was left by an interrupted recording: run scripts/repair_dataset.py first")
    total = int(read_info(root)["total_episodes"])
    indices = parse_indices(indices_text, total)

    from lerobot.datasets import LeRobotDataset
    from lerobot.datasets.dataset_tools import delete_episodes

    work = root.with_name(f"{root.name}.deleting-{int(time.time())}")
    try:
        source = LeRobotDataset(repo_id, root=root)
        expected_frames = source.meta.total_frames - sum(
            int(source.meta.episodes[i]["length"]) for i in indices
        )
        delete_episodes(source, indices, output_dir=work, repo_id=repo_id)
        check = LeRobotDataset(repo_id, root=work)
        if check.meta.total_episodes != total - len(indices) or check.meta.total_frames != expected_frames:
            raise RuntimeError(
                f"edited copy has {check.meta.total_episodes} episodes / {check.meta.total_frames} frames, "
                f"expected {total - len(indices)} / {expected_frames}"
            )
        if (root / SIDECAR_RELPATH).exists():
            sidecar = EpisodeSidecar(root)  # read beside the info.json it matches, written into the copy
            sidecar.path = work / SIDECAR_RELPATH
            sidecar.delete_and_renumber(indices)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    backup = root.with_name(f"{root.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(root, backup)
    os.replace(work, root)
    log(
        f"deleted episodes {indices} from {root}: {total - len(indices)} episodes left, renumbered 0.."
        f"{total - len(indices) - 1}; original kept at {backup}"
    )
    return backup


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo_id", required=True)
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--episode_indices", required=True, help='JSON list, e.g. "[41, 42]"')
    args = ap.parse_args(argv)
    try:
        with RootLock(args.root, "delete_episodes.py"):
            delete_in_place(args.repo_id, args.root, args.episode_indices)
    except RootInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"error: {exc}. Nothing was changed.", file=sys.stderr)
        return 2
    except Exception as exc:
        print(
            f"error: deleting failed ({type(exc).__name__}: {exc}). The dataset was not changed.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
