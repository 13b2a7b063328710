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
