"""Defect injection: config loading, the shared per-episode plan, and that each injector changes what it
should and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim_teleop.config import ConfigError
from sim_teleop.control import defects as D
from sim_teleop.messages import IMAGE_SHAPE, Frame, Phase


def _config(**overrides: object) -> D.DefectConfig:
    data: dict[str, object] = {"probability": 1.0, "families": list(D.FAMILIES)}
    data.update(overrides)
    return D.DefectConfig.from_dict(data)


def _plan(*defects: D.Defect, index: int = 0) -> D.EpisodePlan:
    return D.EpisodePlan(index, tuple(defects))


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(30, 220, IMAGE_SHAPE, dtype=np.uint8)


# --- config -------------------------------------------------------------------------------------------


def test_config_files_in_repo_load() -> None:
    files = sorted(Path(D.__file__).resolve().parents[3].joinpath("configs", "defects").glob("*.json"))
    assert files, "configs/defects/*.json missing"
    for path in files:
        cfg = D.load_config(path)
        assert cfg.families and set(cfg.families) <= set(D.FAMILIES)


def test_config_family_forms_and_severity_override() -> None:
    cfg = D.DefectConfig.from_dict(
        {
            "probability": 0.25,
            "severity": [0.2, 0.4],
            "families": {"jitter": 2, "drop": {"severity": [0.9, 1.0]}},
        }
    )
    assert cfg.probability == 0.25
    assert cfg.families["jitter"] == D.FamilySpec(2.0, (0.2, 0.4))
    assert cfg.families["drop"] == D.FamilySpec(1.0, (0.9, 1.0))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"probability": 1.5}, "probability"),
        ({"families": ["wobble"]}, "unknown defect family"),
        ({"severity": [0.8, 0.2]}, "severity"),
        ({"cameras": ["top"]}, "cameras"),
        ({"max_per_episode": 0}, "max_per_episode"),
        ({"probabilty": 0.5}, "unknown keys"),
        ({"families": {"jitter": 0}}, "weight 0"),
    ],
)
def test_config_rejects_bad_values(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        D.DefectConfig.from_dict(data)


def test_config_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(D.ENV_CONFIG, raising=False)
    assert D.config_from_env() is None
    monkeypatch.setenv(D.ENV_CONFIG, "")
    assert D.config_from_env() is None
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"probability": 0.5, "seed": 3, "families": ["blur"]}))
    monkeypatch.setenv(D.ENV_CONFIG, str(path))
    monkeypatch.setenv(D.ENV_SEED, "11")
    cfg = D.config_from_env()
    assert cfg is not None and cfg.seed == 11 and list(cfg.families) == ["blur"]
    monkeypatch.setenv(D.ENV_CONFIG, str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="not found"):
        D.config_from_env()


# --- plan ---------------------------------------------------------------------------------------------


def test_plan_is_pure_and_agrees_across_callers() -> None:
    cfg = _config(probability=0.6, max_per_episode=2)
    a = [D.plan_for_episode(cfg, 5, i).annotation() for i in range(40)]
    b = [D.plan_for_episode(cfg, 5, i).annotation() for i in reversed(range(40))][::-1]
    assert a == b
    assert a != [D.plan_for_episode(cfg, 6, i).annotation() for i in range(40)]


def test_plan_follows_probability_families_and_severity() -> None:
    cfg = D.DefectConfig.from_dict(
        {"probability": 0.3, "severity": [0.4, 0.6], "families": ["pause", "dark"], "cameras": ["wrist"]}
    )
    plans = [D.plan_for_episode(cfg, 0, i) for i in range(400)]
    share = sum(not p.clean for p in plans) / len(plans)
    assert 0.22 < share < 0.38
    for p in plans:
        assert len(p.defects) <= 1
        for d in p.defects:
            assert d.family in ("pause", "dark") and 0.4 <= d.severity <= 0.6
            assert d.camera == ("wrist" if d.family == "dark" else None)
    assert D.plan_for_episode(None, 0, 3).clean
    assert D.plan_for_episode(_config(probability=0.0), 0, 3).clean


def test_annotation_is_self_describing() -> None:
    plan = _plan(D.Defect("blur", 0.5, 0, None, "front"), D.Defect("pause", 0.25, 4, 9))
    assert plan.annotation() == {
        "defects": [
            {"family": "blur", "severity": 0.5, "camera": "front", "start": 0, "duration": None},
            {"family": "pause", "severity": 0.25, "start": 4, "duration": 9},
        ]
    }
    assert _plan().annotation() == {"defects": []}


# --- motion injectors ---------------------------------------------------------------------------------


def _run(injector: D.MotionInjector, actions: np.ndarray, lifted: list[float] | None = None) -> np.ndarray:
    out = []
    for i, action in enumerate(actions):
        if injector.paused(i):
            out.append(injector.hold(i))
        else:
            out.append(injector.apply(i, action, lifted=0.0 if lifted is None else lifted[i]))
    return np.array(out)


def _smooth_actions(n: int = 40) -> np.ndarray:
    t = np.arange(n, dtype=np.float32)
    return np.stack([0.004 * t, -0.002 * t, 0.001 * t, (t > 25).astype(np.float32)], axis=1)


def test_clean_plan_passes_actions_through() -> None:
    actions = _smooth_actions()
    np.testing.assert_array_equal(_run(D.MotionInjector(_plan()), actions), actions)


def test_jitter_perturbs_xyz_only_inside_its_window() -> None:
    actions = _smooth_actions()
    d = D.Defect("jitter", 0.8, 5, 10)
    out = _run(D.MotionInjector(_plan(d)), actions)
    inside = np.arange(5, 15)
    outside = np.setdiff1d(np.arange(len(actions)), inside)
    np.testing.assert_array_equal(out[outside], actions[outside])
    np.testing.assert_array_equal(out[:, 3], actions[:, 3])
    dev = np.abs(out[inside, :3] - actions[inside, :3])
    assert dev.max() > 0.004 and dev.max() < 2 * D.JITTER_MAX_M
    weak = _run(D.MotionInjector(_plan(D.Defect("jitter", 0.0, 5, 10))), actions)
    assert np.abs(weak[inside, :3] - actions[inside, :3]).mean() < dev.mean()


def test_pause_repeats_the_last_command_exactly() -> None:
    actions = _smooth_actions()  # the command first moves on frame 1
    d = D.Defect("pause", 0.5, 8, 6)  # so the pause holds frames 1 + 8 .. 1 + 13
    out = _run(D.MotionInjector(_plan(d)), actions)
    np.testing.assert_array_equal(out[:9], actions[:9])
    for i in range(9, 15):
        np.testing.assert_array_equal(out[i], actions[8])
    np.testing.assert_array_equal(out[15:], actions[15:])


def test_pause_waits_for_the_first_commanded_motion() -> None:
    actions = _smooth_actions()
    actions[1:6] = actions[0]  # the operator stands still for 5 frames first
    actions[6:] -= actions[6] - actions[0]
    actions[6:, :3] += 0.004 * np.arange(1, len(actions) - 5)[:, None]
    out = _run(D.MotionInjector(_plan(D.Defect("pause", 0.5, 2, 4))), actions)
    np.testing.assert_array_equal(out[:8], actions[:8])  # moved on frame 6: held from 6 + 2
    for i in range(8, 12):
        np.testing.assert_array_equal(out[i], actions[7])
    np.testing.assert_array_equal(out[12:], actions[12:])


def test_chatter_swings_only_the_gripper_and_holds_the_grasp_back() -> None:
    actions = _smooth_actions()
    d = D.Defect("chatter", 1.0, 3, 6)
    inj = D.MotionInjector(_plan(d))
    out = _run(inj, actions)
    np.testing.assert_array_equal(out[:, :3], actions[:, :3])
    window = out[3:9, 3]
    assert set(np.round(window, 3)) == {0.0, 1.0}  # open <-> closed on alternate frames
    np.testing.assert_array_equal(out[9:, 3], actions[9:, 3])
    assert all(inj.holds_before_grasp(i) for i in range(9)) and not inj.holds_before_grasp(9)


def test_detour_is_a_smooth_bump_that_goes_up_and_comes_back() -> None:
    actions = _smooth_actions()
    d = D.Defect("detour", 1.0, 4, 12)
    out = _run(D.MotionInjector(_plan(d)), actions)
    offset = out[:, :3] - actions[:, :3]
    np.testing.assert_array_equal(out[:, 3], actions[:, 3])
    assert np.all(offset[:4] == 0) and np.all(offset[16:] == 0)
    peak = np.linalg.norm(offset, axis=1).max()
    assert 0.9 * D.DETOUR_MAX_M < peak <= D.DETOUR_MAX_M + 1e-6
    assert np.all(offset[4:16, 2] > 0)  # upwards, never into the table
    assert np.abs(np.diff(offset, axis=0)).max() < 0.04  # smooth: within the sim's per-step limit


def test_slow_limits_speed_inside_the_window_only() -> None:
    actions = _smooth_actions()
    actions[:, :3] *= 5  # 2 cm per frame on x...
    actions[20:, :3] = actions[20, :3]  # ...until the expert's waypoint
    d = D.Defect("slow", 1.0, 2, 10)
    out = _run(D.MotionInjector(_plan(d)), actions)
    steps = np.linalg.norm(np.diff(out[:, :3], axis=0), axis=1)  # steps[k]: frame k -> k + 1
    assert steps[0] > 0.01  # before the window: the expert's own speed
    assert steps[1:11].max() <= D.SLOW_SLOWEST_M + 1e-6
    assert steps[11:].max() <= D.SLOW_CATCH_UP_M + 1e-6  # catches up without a jump...
    np.testing.assert_allclose(out[-1, :3], actions[-1, :3], atol=1e-6)  # ...and then follows again
    np.testing.assert_array_equal(out[:, 3], actions[:, 3])


def test_drop_opens_the_gripper_once_at_its_height_and_freezes_the_hand() -> None:
    d = D.Defect("drop", 0.5, None, D.DROP_OPEN_FRAMES)
    height = D.drop_height(d)
    n = 30
    actions = np.zeros((n, 4), np.float32)
    actions[:, 2] = np.linspace(0, 0.15, n)
    actions[:, 3] = 1.0
    lifted = [float(a) for a in actions[:, 2]]
    inj = D.MotionInjector(_plan(d))
    out = _run(inj, actions, lifted)
    first = next(i for i, h in enumerate(lifted) if h >= height)
    np.testing.assert_array_equal(out[:first], actions[:first])
    assert np.all(out[first : first + D.DROP_OPEN_FRAMES, 3] == 0.0)
    assert np.all(out[first : first + D.DROP_OPEN_FRAMES, :3] == out[first - 1, :3])  # the hand stops
    np.testing.assert_array_equal(out[first + D.DROP_OPEN_FRAMES :], actions[first + D.DROP_OPEN_FRAMES :])
    assert D.DROP_MIN_M <= height <= D.DROP_MAX_M < 0.1  # before the 0.1 m lift that counts as success


# --- camera injectors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["dark", "overexposed", "blur"])
def test_exposure_and_blur_change_only_their_camera(family: str) -> None:
    img = _image()
    plan = _plan(D.Defect(family, 0.7, 0, None, "front"))
    before = img.copy()
    out = D.apply_camera_defect(plan, "front", img, 5)
    np.testing.assert_array_equal(img, before)  # input untouched
    assert out.shape == IMAGE_SHAPE and out.dtype == np.uint8
    assert D.apply_camera_defect(plan, "wrist", img, 5) is img
    mean_in, mean_out = float(img.mean()), float(out.mean())
    if family == "dark":
        assert mean_out < 0.5 * mean_in
    elif family == "overexposed":
        assert mean_out > 1.5 * mean_in or mean_out > 230
    else:
        sharp_in = np.abs(np.diff(img.astype(float), axis=1)).mean()
        sharp_out = np.abs(np.diff(out.astype(float), axis=1)).mean()
        assert sharp_out < 0.35 * sharp_in
        assert abs(mean_out - mean_in) < 3


def test_severity_orders_darkness_and_blur() -> None:
    img = _image()
    dark = [D.darken(img, s).mean() for s in (0.0, 0.5, 1.0)]
    assert dark[0] > dark[1] > dark[2]
    sharp = [np.abs(np.diff(D.blur(img, s).astype(float), axis=1)).mean() for s in (0.0, 0.5, 1.0)]
    assert sharp[0] > sharp[1] > sharp[2]


def test_frozen_repeats_the_first_image_of_its_window() -> None:
    plan = _plan(D.Defect("frozen", 0.5, 3, 4, "wrist"))
    frames = [_image(i) for i in range(10)]
    out = [D.apply_camera_defect(plan, "wrist", f, i) for i, f in enumerate(frames)]
    for i in (0, 1, 2, 7, 8, 9):
        assert out[i] is frames[i]
    for i in (3, 4, 5, 6):
        np.testing.assert_array_equal(out[i], frames[3])
    assert all(D.apply_camera_defect(plan, "front", f, i) is f for i, f in enumerate(frames))


@pytest.mark.parametrize("family", D.PARTIAL_FAMILIES)
@pytest.mark.parametrize("index", range(4))
def test_partial_view_defects_cover_one_quarter(family: str, index: int) -> None:
    """A smudge, occlusion or glare changes one quarter (numbered by the attempt), nothing else."""
    img = _image()
    before = img.copy()
    out = D.apply_camera_defect(_plan(D.Defect(family, 0.5, 0, None, "wrist"), index=index), "wrist", img, 3)
    np.testing.assert_array_equal(img, before)  # input untouched
    changed = np.zeros(IMAGE_SHAPE[:2], bool)
    changed[D.quarter(img, index)] = True
    assert np.any(out[changed] != img[changed])
    np.testing.assert_array_equal(out[~changed], img[~changed])
    patch, rest = out[changed].astype(float), img[changed].astype(float)
    if family == "occlusion":
        assert patch.mean() < 0.5 * rest.mean() and patch.std() < 0.5 * rest.std()
    elif family == "glare":
        assert patch.mean() > 230
    else:
        assert patch.std() < 0.5 * rest.std() and patch.mean() > rest.mean()


def test_severity_orders_partial_view_defects() -> None:
    img = _image()
    region = D.quarter(img, 0)
    haze = [D.smudge(img, s, 0)[region].std() for s in (0.0, 0.5, 1.0)]
    cover = [D.occlude(img, s, 0)[region].mean() for s in (0.0, 0.5, 1.0)]
    glare = [D.glare(img, s, 0)[region].mean() for s in (0.0, 0.5, 1.0)]
    assert haze[0] > haze[1] > haze[2] and cover[0] > cover[1] > cover[2] and glare[0] < glare[1] <= glare[2]


def _frame(index: int, frame_index: int, phase: Phase = Phase.RUNNING) -> Frame:
    return Frame(
        episode_index=index,
        frame_index=frame_index,
        phase=phase,
        timestamp=0.0,
        state=np.zeros(18, np.float32),
        action=np.zeros(4, np.float32),
        reward=0.0,
        success=False,
        front=_image(1),
        wrist=_image(2),
        cube_pose=np.zeros(7, np.float32),
    )


def test_sim_hook_applies_the_shared_plan_to_running_frames_only() -> None:
    cfg = _config(probability=1.0, families=["dark"], cameras=["front"], severity=[1.0, 1.0])
    hook = D.CameraDefects(cfg)
    f = hook.apply(_frame(4, 0))
    assert f.front.mean() < 0.2 * _image(1).mean()
    np.testing.assert_array_equal(f.wrist, _image(2))
    done = hook.apply(_frame(4, 0, Phase.DONE))
    np.testing.assert_array_equal(done.front, _image(1))
    assert (
        hook.plan is not None and hook.plan.annotation() == D.plan_for_episode(cfg, cfg.seed, 4).annotation()
    )
    clean = D.CameraDefects(None).apply(_frame(0, 0))
    np.testing.assert_array_equal(clean.front, _image(1))
