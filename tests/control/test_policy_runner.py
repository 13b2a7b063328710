"""Policy node logic without dora or torch: checkpoint checks, auto-advance, live results, the node loop."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import load_node
from dora.testing import MockNode
from frames import attempt, frame

from sim_teleop.control.policy import (
    PolicyError,
    check_features,
    gripper_state_scale,
    resolve_checkpoint,
    validate_checkpoint,
)
from sim_teleop.eval.controller import EvalController
from sim_teleop.eval.summary import EvalTracker, summarize, wilson_interval
from sim_teleop.messages import (
    ACTION,
    CONTROL,
    FRAME,
    IMAGE_SHAPE,
    STATE_DIM,
    STATE_GRIPPER,
    Control,
    EndReason,
    Frame,
    Phase,
    decode_action,
    decode_control,
    encode_frame,
)

GOOD_INPUTS = {
    "observation.state": {"type": "STATE", "shape": [18]},
    "observation.images.front": {"type": "VISUAL", "shape": [3, 128, 128]},
    "observation.images.wrist": {"type": "VISUAL", "shape": [3, 128, 128]},
}
GOOD_OUTPUTS = {"action": {"type": "ACTION", "shape": [4]}}


def _checkpoint(root: Path, inputs: dict = GOOD_INPUTS, outputs: dict = GOOD_OUTPUTS) -> Path:
    ckpt = root / "checkpoints" / "last" / "pretrained_model"
    ckpt.mkdir(parents=True)
    cfg = {"type": "act", "input_features": inputs, "output_features": outputs}
    (ckpt / "config.json").write_text(json.dumps(cfg))
    (ckpt / "model.safetensors").write_bytes(b"")
    return ckpt


# --- checkpoint checks -----------------------------------------------------------------------------------


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy checkpoint not found: .*nowhere.*POLICY_CHECKPOINT"):
        resolve_checkpoint(tmp_path / "nowhere")


def test_directory_without_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    with pytest.raises(PolicyError, match="no policy checkpoint under"):
        resolve_checkpoint(tmp_path / "run")


def test_incomplete_checkpoint_names_the_missing_file(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path)
    (ckpt / "model.safetensors").unlink()
    with pytest.raises(PolicyError, match=r"missing model\.safetensors"):
        resolve_checkpoint(ckpt)


def test_checkpoint_found_from_run_dir_step_dir_and_model_dir(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path)
    assert resolve_checkpoint(tmp_path) == ckpt
    assert resolve_checkpoint(ckpt.parent) == ckpt
    assert resolve_checkpoint(ckpt) == ckpt
    path, cfg = validate_checkpoint(tmp_path)
    assert path == ckpt and cfg["type"] == "act"


@pytest.mark.parametrize(
    ("inputs", "outputs", "message"),
    [
        (
            {**GOOD_INPUTS, "observation.state": {"type": "STATE", "shape": [17]}},
            GOOD_OUTPUTS,
            "shape \\(17,\\)",
        ),
        (
            {**GOOD_INPUTS, "observation.images.front": {"type": "VISUAL", "shape": [3, 256, 256]}},
            GOOD_OUTPUTS,
            "observation.images.front.*never larger",
        ),
        (
            {**GOOD_INPUTS, "observation.images.wrist": {"type": "VISUAL", "shape": [1, 64, 64]}},
            GOOD_OUTPUTS,
            "observation.images.wrist",
        ),
        (GOOD_INPUTS, {"action": {"type": "ACTION", "shape": [7]}}, "output 'action' has shape \\(7,\\)"),
        (
            {**GOOD_INPUTS, "observation.environment_state": {"type": "ENV", "shape": [3]}},
            GOOD_OUTPUTS,
            "not produced by the sim",
        ),
        (
            {"observation.state": GOOD_INPUTS["observation.state"]},
            GOOD_OUTPUTS,
            "no camera input",
        ),
        (GOOD_INPUTS, {}, "output 'action' is missing"),
    ],
)
def test_mismatched_features_are_rejected(inputs: dict, outputs: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=message):
        check_features(inputs, outputs)
    _checkpoint(tmp_path, inputs, outputs)
    with pytest.raises(PolicyError, match="do not match the sim"):
        validate_checkpoint(tmp_path)


@pytest.mark.parametrize(("gripper_max", "scale"), [(255.0, 255.0), (1.0, 1.0)])
def test_a_checkpoint_trained_on_the_old_gripper_unit_is_recognised(
    gripper_max: float, scale: float, tmp_path: Path
) -> None:
    """The checkpoint's own normalizer statistics tell which gripper unit it learnt."""
    from safetensors.numpy import save_file

    high = np.ones(STATE_DIM, np.float32)
    high[STATE_GRIPPER] = gripper_max
    stats: dict[str, np.ndarray] = {
        "observation.state.max": high,
        "observation.state.mean": high / 2,
        "action.max": np.ones(4),
    }
    save_file(stats, str(tmp_path / "policy_preprocessor_step_3_normalizer_processor.safetensors"))
    assert gripper_state_scale(tmp_path) == scale
    assert gripper_state_scale(tmp_path / "elsewhere") == 1.0  # no statistics: the current unit


def test_matching_features_pass() -> None:
    check_features(GOOD_INPUTS, GOOD_OUTPUTS)
    one_camera = {k: v for k, v in GOOD_INPUTS.items() if "wrist" not in k}
    check_features(one_camera, GOOD_OUTPUTS)


# --- auto-advance ----------------------------------------------------------------------------------------


def _run(controller: EvalController, frames: list[Frame]) -> list[tuple[int, str, str]]:
    """(attempt, phase, what) for every decision that does something."""
    out = []
    for f in frames:
        d = controller.on_frame(f)
        if d.reset:
            out.append((f.episode_index, f.phase.value, "reset"))
        if d.control is not None:
            out.append((f.episode_index, f.phase.value, d.control.value))
    return out


def test_controller_resets_each_attempt_and_advances_then_stops() -> None:
    c = EvalController(episodes=2)
    frames = attempt(0, 5, EndReason.SUCCESS) + attempt(1, 4, EndReason.TIME_LIMIT)
    events = _run(c, frames)
    assert events == [  # `next` goes out on the end frame itself (the shared auto-advance)
        (0, "running", "reset"),
        (0, "running", "next"),
        (0, "resetting", "next"),
        (1, "running", "reset"),
        (1, "running", "next"),
        (1, "resetting", "stop"),
    ]
    acts = [c2 for c2 in frames if c2.phase is Phase.RUNNING and c2.end_reason is EndReason.NONE]
    c2 = EvalController(episodes=2)
    assert sum(c2.on_frame(f).act for f in frames) == len(acts)  # no action on the end frame or later
    assert c.stop_sent


def test_rerecorded_attempt_does_not_count() -> None:
    c = EvalController(episodes=1)
    # Attempt 0 ends on time, then the operator presses Ctrl during done: the sim discards it.
    frames = attempt(0, 3, EndReason.TIME_LIMIT, done=1, resetting=0)
    frames += [frame(0, Phase.RESETTING, 0, EndReason.RERECORD)]
    frames += attempt(1, 3, EndReason.SUCCESS)
    events = _run(c, frames)
    assert (0, "resetting", "next") in events
    assert events[-1] == (1, "resetting", "stop")
    assert c.saved_episodes == 1


def test_lost_command_is_resent() -> None:
    c = EvalController(episodes=5, resend_after=3)
    frames = attempt(0, 2, EndReason.SUCCESS, done=8, resetting=0)
    events = _run(c, frames)
    nexts = [e for e in events if e[2] == "next"]
    assert len(nexts) == 3  # on the end frame, then at done frames 2 and 5 (3 frames later each)


# --- results --------------------------------------------------------------------------------------------


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson_interval(40, 50)
    assert lo == pytest.approx(0.6696, abs=1e-4) and hi == pytest.approx(0.8876, abs=1e-4)
    lo, hi = wilson_interval(0, 2)
    assert lo == 0.0 and hi == pytest.approx(0.6576, abs=1e-4)
    lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_tracker_counts_saved_episodes_with_dataset_clock() -> None:
    t = EvalTracker(fps=10)
    frames = (
        attempt(0, 7, EndReason.SUCCESS)
        + attempt(1, 3, EndReason.RERECORD)
        + attempt(2, 4, EndReason.TIME_LIMIT)
    )
    for f in frames:
        t.observe(f)
    results = t.results()
    assert [(r.episode_index, r.attempt_index, r.success, r.num_frames) for r in results] == [
        (0, 0, True, 7),
        (1, 2, False, 4),
    ]
    assert results[0].time_to_success_s == pytest.approx(0.6)  # 7th frame -> index 6 -> 0.6 s
    s = summarize(results, fps=10)
    assert s["episodes"] == 2 and s["successes"] == 1 and s["success_rate"] == 0.5
    assert s["mean_time_to_success_s"] == pytest.approx(0.6)
    assert s["end_reasons"] == {"success": 1, "time_limit": 1}


# --- the node loop with a fake policy --------------------------------------------------------------------


class FakeRunner:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.resets = 0
        self.calls = 0
        self.path = "fake"

    def reset(self) -> None:
        self.resets += 1

    def act(self, obs: dict) -> np.ndarray:
        assert obs["observation.state"].shape == (18,)
        assert obs["observation.images.front"].shape == IMAGE_SHAPE
        self.calls += 1
        time.sleep(self.delay)
        return np.array([0.01 * self.calls, 0.0, 0.0, 1.0], np.float32)


def _node_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runner: FakeRunner, frames: list[Frame]
) -> MockNode:
    monkeypatch.setenv("EVAL_EPISODES", "2")
    monkeypatch.setenv("EVAL_OUTPUT", str(tmp_path / "eval"))
    mod = load_node("policy")
    node = MockNode([(FRAME, encode_frame(f)) for f in frames])
    mod.main(node=node, runner=runner)
    return node


def test_node_drives_two_episodes_and_writes_summary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    frames = attempt(0, 6, EndReason.SUCCESS) + attempt(1, 5, EndReason.TIME_LIMIT)
    runner = FakeRunner()
    node = _node_run(monkeypatch, tmp_path, runner, frames)
    actions = [decode_action(a) for a in node.outputs[ACTION]]
    assert np.allclose(actions[0], 0.0)  # the warm-up neutral action
    assert len(actions) == 1 + 5 + 4  # one per running frame before each end frame
    assert [decode_control(c) for c in node.outputs[CONTROL]] == [
        Control.NEXT,
        Control.NEXT,
        Control.NEXT,
        Control.STOP,
    ]
    assert runner.resets == 2
    summary = json.loads((tmp_path / "eval" / "eval_summary.json").read_text())
    assert summary["episodes"] == 2 and summary["successes"] == 1
    assert [e["num_frames"] for e in summary["per_episode"]] == [6, 5]
    assert summary["policy_steps"] == 9 and summary["stop_sent"] is True


def test_slow_policy_acts_on_the_newest_frame(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # 60 ms per inference > half a 100 ms tick: queued frames are book-kept, the newest one is acted on.
    frames = attempt(0, 12, EndReason.TIME_LIMIT) + attempt(1, 3, EndReason.TIME_LIMIT)
    runner = FakeRunner(delay=0.06)
    node = _node_run(monkeypatch, tmp_path, runner, frames)
    summary = json.loads((tmp_path / "eval" / "eval_summary.json").read_text())
    assert runner.calls < 11 + 2
    assert summary["frames_without_fresh_action"] > 0
    assert summary["running_frames"] == 11 + 2
    # Episode bookkeeping is unaffected by skipped inferences.
    assert [e["num_frames"] for e in summary["per_episode"]] == [12, 3]
    assert decode_control(node.outputs[CONTROL][-1]) is Control.STOP


def test_node_exits_with_clear_error_on_bad_checkpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _checkpoint(tmp_path / "run", outputs={"action": {"type": "ACTION", "shape": [7]}})
    monkeypatch.setenv("POLICY_CHECKPOINT", str(tmp_path / "run"))
    monkeypatch.setenv("EVAL_OUTPUT", str(tmp_path / "eval"))
    mod = load_node("policy")
    node = MockNode([])
    with pytest.raises(SystemExit) as exc:
        mod.main(node=node)
    assert exc.value.code == 2
    assert "policy features do not match the sim" in capsys.readouterr().err
    assert node.outputs == {}  # nothing was sent: the sim never got an action or a command


def test_smaller_camera_inputs_are_accepted() -> None:
    """A checkpoint trained on resize_dataset.py output: the runner resizes the sim's images to it."""
    small = {k: {"type": "VISUAL", "shape": [3, 64, 48]} for k in GOOD_INPUTS if "images" in k}
    check_features({**GOOD_INPUTS, **small}, GOOD_OUTPUTS)
