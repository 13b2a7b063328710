"""Resume refuses whatever would make the dataset mixed, in one line, before writing anything; a second
task passes only with the explicit override. Real lerobot: one small base dataset, copied per case."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from recorded import load, make_cfg, record

from sim_teleop.config import DEFAULT_SIM_ENV, RunConfig
from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.features import build_features
from sim_teleop.dataset.reader import dataset_files, read_tasks
from sim_teleop.dataset.sidecar import SIDECAR_RELPATH, EpisodeSidecar
from sim_teleop.recorder import session
from sim_teleop.recorder.config import RecordConfig
from sim_teleop.recorder.session import Recorder, prepare_dataset

ARRANGE = "gym_hil/PandaArrangeBoxesBase-v0"
PUSH = "Push the cube off the table."


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pick-cube episode recorded with the default settings (the only real recording but one)."""
    root = tmp_path_factory.mktemp("base") / "ds"
    record(make_cfg(root, num_episodes=1), [3])
    return root


@pytest.fixture
def ds(base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(base, root)
    return root


def refusal(root: Path, **settings: Any) -> str:
    """Resume `root` with `settings` changed: the DatasetError's text, after checking nothing changed."""
    before = dataset_files(root)
    with pytest.raises(DatasetError) as caught:
        Recorder(make_cfg(root, num_episodes=5, resume=True, **settings), expects_quality=False, log=print)
    assert dataset_files(root) == before  # byte-identical: nothing written, nothing repaired
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"cannot resume {root}: ")
    assert message.endswith(
        "nothing was written. Use matching settings or record into a new dataset (another RECORD_ROOT)"
    )
    return message


def test_the_base_dataset_knows_its_env_task_codec_and_robot(base: Path) -> None:
    assert (EpisodeSidecar(base).get(0) or {})["sim_env"] == DEFAULT_SIM_ENV
    assert read_tasks(base) == ["Pick up the cube."]
    info = json.loads((base / "meta" / "info.json").read_text())
    assert info["robot_type"] == "franka_panda_gym_hil"
    assert info["features"]["observation.images.front"]["info"]["video.codec"] == "av1"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"sim_env": ARRANGE}, f"env: dataset has '{DEFAULT_SIM_ENV}', this run has '{ARRANGE}'"),
        ({"task": PUSH}, f"task: dataset has 'Pick up the cube.', this run has '{PUSH}'"),
        ({"video": {"codec": "h264"}}, "video codec: dataset has av1, this run has h264"),
        ({"fps": 15}, "fps: dataset has 10, this recording runs at 15"),
        ({"robot_type": "so100"}, "robot type: dataset has 'franka_panda_gym_hil', this run has 'so100'"),
    ],
    ids=["env", "task", "codec", "fps", "robot_type"],
)
def test_resume_refuses_one_changed_setting_in_one_line(ds: Path, settings: dict, named: str) -> None:
    message = refusal(ds, **settings)
    assert named in message
    assert message.count(": dataset has ") == 1  # that setting alone


@pytest.mark.parametrize(
    ("features", "named"),
    [
        ({"image_shape": (64, 64, 3)}, "image size 'observation.images.front'"),
        ({"cameras": ("front",)}, "cameras: dataset has"),
    ],
    ids=["image_size", "cameras"],
)
def test_resume_refuses_other_cameras_or_image_size_in_one_line(
    ds: Path, monkeypatch: pytest.MonkeyPatch, features: dict, named: str
) -> None:
    monkeypatch.setattr(session, "build_features", lambda **kw: build_features(**features, **kw))
    assert named in refusal(ds)


def test_every_difference_is_named_in_the_same_line(ds: Path) -> None:
    message = refusal(ds, sim_env=ARRANGE, task=PUSH, fps=15)
    assert all(what in message for what in ("env: ", "task: ", "fps: ")), message


def test_the_override_lets_a_second_task_in_and_nothing_else(ds: Path) -> None:
    assert "env: " in refusal(ds, task=PUSH, allow_new_task=True, sim_env=ARRANGE)  # still refused
    assert "video codec: " in refusal(ds, task=PUSH, allow_new_task=True, video={"codec": "h264"})
    rec, _ = record(make_cfg(ds, num_episodes=2, resume=True, task=PUSH, allow_new_task=True), [3])
    assert rec.saved == 2 and any(f"adding task '{PUSH}'" in line for line in rec.logs)  # type: ignore[attr-defined]
    assert read_tasks(ds) == ["Pick up the cube.", PUSH]
    dataset = load(ds)
    assert [dataset[i]["task"] for i in (0, 3)] == ["Pick up the cube.", PUSH]
    # Both tasks are the dataset's now: resuming with either needs no override.
    for task in ("Pick up the cube.", PUSH):
        assert prepare_dataset(make_cfg(ds, num_episodes=3, resume=True, task=task), print) == (False, 2)


def test_a_dataset_without_a_stored_env_is_not_refused_for_env(ds: Path) -> None:
    path = ds / SIDECAR_RELPATH
    records = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "sim_env"}) + "\n" for r in records)
    )
    assert prepare_dataset(make_cfg(ds, num_episodes=3, resume=True, sim_env=ARRANGE), print) == (False, 1)


def test_the_env_is_one_run_level_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sim_teleop.sim.env import PICK_CUBE
    from sim_teleop.sim.runner import SimConfig

    assert DEFAULT_SIM_ENV == PICK_CUBE
    for var in ("SIM_ENV", "RECORD_ALLOW_NEW_TASK", "RESUME_RECORDING"):
        monkeypatch.delenv(var, raising=False)
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"repo_id": "me/boxes", "sim_env": ARRANGE, "root": str(tmp_path / "ds")}))
    monkeypatch.setenv("RECORD_CONFIG", str(run))
    assert RunConfig.load().sim_env == ARRANGE and SimConfig.from_env().env_id == ARRANGE
    monkeypatch.setenv("SIM_ENV", PICK_CUBE)
    assert RecordConfig.load().sim_env == PICK_CUBE and SimConfig.from_env().env_id == PICK_CUBE
    assert not RecordConfig.load().allow_new_task
    monkeypatch.setenv("RECORD_ALLOW_NEW_TASK", "1")
    assert RecordConfig.load().allow_new_task
