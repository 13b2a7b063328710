"""The dataset reader: info.json as the last finished commit left it, only the episodes it counts, the
data columns and the episodes' video frames, on a small dataset written by the project's own writer."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.features import (
    ACTION_KEY,
    DONE_KEY,
    REWARD_KEY,
    STATE_KEY,
    SUCCESS_KEY,
    build_features,
    camera_key,
)
from sim_teleop.dataset.journal import BACKUP, JOURNAL, JOURNAL_DIR
from sim_teleop.dataset.reader import (
    INFO,
    DatasetReader,
    bool_flags,
    held,
    is_dataset,
    read_data_columns,
    read_info,
    total_episodes,
    video_codec,
)
from sim_teleop.dataset.sidecar import EpisodeSidecar
from sim_teleop.dataset.store import EpisodeWriter, VideoSettings
from sim_teleop.eval.summary import results_from_dataset
from sim_teleop.messages import ACTION_DIM, CAMERAS, STATE_DIM

os.environ["HF_HUB_OFFLINE"] = "1"
SIZE = 64
LENGTHS = (5, 7, 4)
SUCCESS_AT = {0: 3, 1: None, 2: 1}  # first success frame per episode
BRIGHTNESS = {"front": 60, "wrist": 180}


def state(ep: int, t: int) -> np.ndarray:
    return np.full(STATE_DIM, ep * 100 + t, np.float32)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reader") / "ds"
    features = build_features(image_shape=(SIZE, SIZE, 3))
    writer = EpisodeWriter(
        "test/reader", root, 10, features, "Pick up the cube.", VideoSettings(), create=True
    )
    for ep, n in enumerate(LENGTHS):
        for t in range(n):
            first = SUCCESS_AT[ep]
            ok = first is not None and t >= first
            row = {
                ACTION_KEY: np.full(ACTION_DIM, -t, np.float32),
                STATE_KEY: state(ep, t),
                REWARD_KEY: np.array([float(ok)], np.float32),
                SUCCESS_KEY: np.array([ok]),
                DONE_KEY: np.array([t == n - 1]),
                "task": "Pick up the cube.",
            }
            for cam in CAMERAS:
                row[camera_key(cam)] = np.full((SIZE, SIZE, 3), BRIGHTNESS[cam], np.uint8)
            writer.add(row)
        writer.commit()
    writer.close()
    return root


def in_flight(root: Path, counted: int, renamed: bool) -> None:
    """Make `root` look like the commit of its last episode in flight: its files are in place, info.json
    not yet renamed (it still counts `counted` episodes) or already `renamed` (the journal not dropped)."""
    info = json.loads((root / INFO).read_text())
    before = {**info, "total_episodes": counted}
    backup = root / JOURNAL_DIR / BACKUP / INFO
    backup.parent.mkdir(parents=True, exist_ok=True)
    backup.write_text(json.dumps(before))
    if not renamed:
        (root / INFO).write_text(json.dumps(before))
    (root / JOURNAL_DIR / JOURNAL).write_text("{}")


def test_meta_of_a_written_dataset(dataset: Path, tmp_path: Path) -> None:
    assert is_dataset(dataset) and not is_dataset(tmp_path)
    info = read_info(dataset)
    assert (info["total_episodes"], info["total_frames"], info["fps"]) == (3, sum(LENGTHS), 10)
    assert total_episodes(dataset) == 3
    assert video_codec(info, camera_key("front")) == "av1"
    assert video_codec(info, STATE_KEY) is None
    assert held(info, 2) and not held(info, 3) and held({}, 99)
    with pytest.raises(DatasetError, match=r"no meta/info\.json"):
        read_info(tmp_path)
    assert total_episodes(tmp_path) is None


def test_an_unreadable_info_json_is_a_clear_error(dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(dataset, root)
    (root / INFO).write_text("{")
    with pytest.raises(DatasetError, match=r"unreadable.*restore it from a copy"):
        read_info(root)
    assert total_episodes(root) is None


def test_episodes_columns_and_frames_read_back(dataset: Path) -> None:
    with DatasetReader(dataset) as reader:
        assert len(reader) == 3 and reader.fps == 10.0
        assert reader.video_keys == [camera_key(c) for c in CAMERAS]
        for ep, n in enumerate(LENGTHS):
            data = reader.episode(ep)
            np.testing.assert_array_equal(data.state, np.stack([state(ep, t) for t in range(n)]))
            assert data.action[:, 0].tolist() == [-t for t in range(n)]
            assert data.success == (SUCCESS_AT[ep] is not None)
            for cam in CAMERAS:
                video, t0 = reader.video(ep, camera_key(cam))
                sampled = video.sample(t0, reader.fps, n, stride=2)
                assert sampled and sampled[0][0] == 0 and all(0 <= i < n for i, _ in sampled)
                assert all(abs(float(img.mean()) - BRIGHTNESS[cam]) < 4 for _, img in sampled)
    table = read_data_columns(dataset, ["episode_index", SUCCESS_KEY])
    assert table is not None and table.num_rows == sum(LENGTHS)
    flags = bool_flags(table[SUCCESS_KEY])
    episode = np.asarray(table["episode_index"])
    for ep in range(3):
        assert flags[episode == ep].any() == (SUCCESS_AT[ep] is not None)


@pytest.mark.parametrize("renamed", [False, True])
def test_a_commit_in_flight(dataset: Path, tmp_path: Path, renamed: bool) -> None:
    """Readers see what lerobot loads (the last episode once info.json was renamed); the writer's view
    is the last finished commit, which repair would restore."""
    root = tmp_path / "ds"
    shutil.copytree(dataset, root)
    EpisodeSidecar(root).put(2, end_reason="success")
    in_flight(root, counted=2, renamed=renamed)
    seen = 3 if renamed else 2
    assert read_info(root)["total_episodes"] == 2
    assert read_info(root, committed=False)["total_episodes"] == total_episodes(root) == seen
    with DatasetReader(root) as reader:
        assert len(reader) == seen
    table = read_data_columns(root, ["episode_index"])
    assert table is not None and set(np.asarray(table["episode_index"]).tolist()) == set(range(seen))
    results, fps = results_from_dataset(root)
    assert [r.episode_index for r in results] == list(range(seen)) and fps == 10.0
    assert (EpisodeSidecar(root).get(2) is not None) == renamed  # a record ahead of info.json is not read


def test_results_from_dataset(dataset: Path) -> None:
    results, _ = results_from_dataset(dataset)
    assert [(r.success, r.num_frames) for r in results] == [(True, 5), (False, 7), (True, 4)]
    assert results[0].time_to_success_s == pytest.approx(0.3)
    assert results[1].time_to_success_s is None


def test_bool_flags_of_scalar_list_and_null_columns() -> None:
    import pyarrow as pa

    assert bool_flags(pa.chunked_array([[True, None, False]])).tolist() == [True, False, False]
    lists = pa.array([[False], [True], [False, True]], pa.list_(pa.bool_()))
    assert bool_flags(lists).tolist() == [False, True, True]
