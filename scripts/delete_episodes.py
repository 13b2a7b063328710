"""Delete episodes from a recorded dataset in place, renumbering the rest contiguously.

    python scripts/delete_episodes.py --repo_id local/sim_teleop_pick \
        --root outputs/record/sim_teleop_pick --episode_indices "[41, 42]"

How: lerobot's own `delete_episodes` writes the edited dataset next to the root; it is loaded and
checked (episode and frame counts), the sidecar (quality reports, defect ground truth) is renumbered
the same way, then the original is moved to `<root>.bak-<time>` (kept; delete it yourself) and the
edited copy takes its place. Bad indices (not a list of integers, duplicates, out of range, all
episodes) are refused before anything is written; any failure leaves the original untouched.
A resumed recording (RESUME_RECORDING=1) continues after the last remaining episode.
The logic is `sim_teleop.dataset.delete` (the review page uses it too); this is its command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim_teleop.dataset.delete import UsageError, delete_in_place, parse_indices
from sim_teleop.dataset.lock import RootInUse, RootLock

__all__ = ["UsageError", "delete_in_place", "main", "parse_indices"]  # the logic lives in the package


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
