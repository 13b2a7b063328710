"""Merging in process (`dataset.merge`, behind scripts/merge_datasets.py): refusals write nothing, a merge
appears whole with its sidecar records shifted."""

from __future__ import annotations

from pathlib import Path

import pytest
from recorded import REPO_ID, load, make_cfg, record

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.merge import merge
from sim_teleop.dataset.sidecar import EpisodeSidecar


def test_refusals_write_nothing(tmp_path: Path) -> None:
    a, odd, out = tmp_path / "a", tmp_path / "odd", tmp_path / "merged"
    record(make_cfg(a, num_episodes=9), [3])
    record(make_cfg(odd, num_episodes=9, fps=15), [3])
    with pytest.raises(DatasetError, match="fps"):
        merge([a, odd], out, REPO_ID)
    assert not out.exists() and not out.with_name("merged.merging").exists()
    out.mkdir()
    with pytest.raises(DatasetError, match="never overwrites"):
        merge([a, a], out, REPO_ID)


@pytest.mark.slow  # lerobot's aggregate and a full verification: ~20 s
def test_merge_shifts_episodes_and_their_records(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "merged"
    record(make_cfg(a, num_episodes=9), [4, 5], quality={0: 0.9, 1: 0.8}, expects_quality=True)
    record(make_cfg(b, num_episodes=9), [3], quality={0: 0.4}, expects_quality=True)
    report = merge([a, b], out, REPO_ID)
    assert (report.episodes, report.frames) == (3, 12)
    assert list(load(out).meta.episodes["length"]) == [4, 5, 3]
    records = EpisodeSidecar(out).records
    assert sorted(records) == [0, 1, 2] and records[2]["quality"]["score"] == pytest.approx(0.4)


def _lerobot_written(root: Path, lengths: list[int], flags: list[bool] | None = None) -> Path:
    """A dataset written by LeRobot's own API (not our recorder), with a small camera (64x64: SVT-AV1
    crashes on 16x16): its writer leaves empty `images/<camera>/` staging dirs behind; `flags`: an
    intervention column with these values."""
    import numpy as np
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    features: dict = {
        "action": {"dtype": "float32", "shape": (4,), "names": None},
        "observation.images.front": {
            "dtype": "video",
            "shape": (64, 64, 3),
            "names": ["height", "width", "channels"],
        },
    }
    if flags is not None:
        features["intervention"] = {"dtype": "bool", "shape": (1,), "names": None}
    ds = LeRobotDataset.create(repo_id=REPO_ID, fps=10, features=features, root=root, use_videos=True)
    k = 0
    for n in lengths:
        for i in range(n):
            frame = {
                "action": np.full(4, k, np.float32),
                "observation.images.front": np.full((64, 64, 3), 8 * i, np.uint8),
                "task": "pick",
            }
            if flags is not None:
                frame["intervention"] = np.array([flags[k]])
            ds.add_frame(frame)
            k += 1
        ds.save_episode()
    ds.finalize()
    return root


@pytest.mark.slow  # LeRobot writes and encodes two small datasets, then a full merge: ~15 s
def test_demonstrations_without_the_flag_merge_with_corrections_as_all_false(tmp_path: Path) -> None:
    import numpy as np

    from sim_teleop.dataset.merge import lacking_intervention
    from sim_teleop.dataset.repair import needs_repair

    plain = _lerobot_written(tmp_path / "demos", [5, 4])
    flags = [False, False, True, True, True, False]
    corrections = _lerobot_written(tmp_path / "eval", [6], flags)
    assert (plain / "images").is_dir() and not needs_repair(plain)  # LeRobot's leftovers are no crash
    assert lacking_intervention([plain, corrections]) == [plain]
    assert lacking_intervention([plain, plain]) == []
    before = sorted(p.relative_to(plain) for p in plain.rglob("*"))
    report = merge([plain, corrections], tmp_path / "merged", REPO_ID)
    assert (report.episodes, report.frames) == (3, 15)
    merged = load(tmp_path / "merged")
    got = [bool(np.asarray(v).reshape(-1)[0]) for v in merged.hf_dataset["intervention"]]
    assert got == [False] * 9 + flags
    assert [float(np.asarray(a)[0]) for a in merged.hf_dataset["action"]] == list(range(9)) + list(range(6))
    assert sorted(p.relative_to(plain) for p in plain.rglob("*")) == before  # the source is untouched
    assert not (tmp_path / "merged.filling").exists()
