"""Where a resumed recording's attempts (so its cube placements) continue: decided by the dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim_teleop.config import ConfigError, RunConfig
from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.sidecar import ATTEMPT_KEY, SIDECAR_RELPATH, next_attempt
from sim_teleop.sim.runner import resumed_episodes


def dataset(root: Path, episodes: int, attempts: list[int]) -> Path:
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps({"total_episodes": episodes}))
    lines = [json.dumps({"episode_index": i, ATTEMPT_KEY: a}) for i, a in enumerate(attempts)]
    (root / SIDECAR_RELPATH).write_text("\n".join(lines) + "\n")
    return root


def test_continues_after_every_attempt_the_dataset_remembers(tmp_path: Path) -> None:
    # attempts 0, 3 and 7 kept (1, 2, 4-6 re-recorded or deleted): attempt 8 is the first unused
    assert next_attempt(dataset(tmp_path / "a", 3, [0, 3, 7])) == 8


def test_never_before_the_episode_count(tmp_path: Path) -> None:
    # a dataset recorded without a sidecar (another tool): its 5 episodes used placements 0-4 at least
    root = dataset(tmp_path / "b", 5, [])
    assert next_attempt(root) == 5


def test_no_dataset_starts_at_zero(tmp_path: Path) -> None:
    assert next_attempt(tmp_path / "none") == 0


def test_an_unreadable_dataset_is_one_config_line_for_the_sim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = dataset(tmp_path / "c", 1, [0])
    (root / "meta" / "info.json").write_text("{not json")
    with pytest.raises(DatasetError):
        next_attempt(root)
    monkeypatch.setenv("RECORD_ROOT", str(root))
    monkeypatch.setenv("RESUME_RECORDING", "1")
    with pytest.raises(ConfigError, match="RESUME_RECORDING=1"):
        resumed_episodes(RunConfig.load())
    monkeypatch.setenv("RESUME_RECORDING", "0")
    assert resumed_episodes(RunConfig.load()) == 0
