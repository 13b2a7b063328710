"""The expert and clock node scripts under dora's MockNode (no daemon)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import load_node
from dora.testing import MockNode

from sim_teleop.messages import (
    IMAGE_SHAPE,
    Control,
    EndReason,
    Frame,
    Phase,
    decode_action,
    decode_annotation,
    decode_control,
    encode_frame,
)

REPO = Path(__file__).resolve().parents[2]


def _frame(index: int, i: int, phase: Phase = Phase.RUNNING, reason: EndReason = EndReason.NONE) -> pa.Array:
    state = np.zeros(18, np.float32)
    state[15:18] = (0.49, 0.0, 0.078)
    img = np.zeros(IMAGE_SHAPE, np.uint8)
    cube = np.array([0.4, 0.05, 0.02, 1, 0, 0, 0], np.float32)
    f = Frame(
        index,
        i,
        phase,
        0.1 * i,
        state,
        np.zeros(4, np.float32),
        0.0,
        False,
        img,
        img,
        cube,
        end_reason=reason,
    )
    return encode_frame(f)


def test_expert_node_runs_one_episode_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    defects = tmp_path / "d.json"
    defects.write_text(json.dumps({"probability": 1.0, "families": ["blur"], "cameras": ["wrist"]}))
    monkeypatch.setenv("AUTOPILOT_EPISODES", "1")
    monkeypatch.setenv("DEFECTS_CONFIG", str(defects))
    monkeypatch.setenv("AUTOPILOT_STATS", str(tmp_path / "stats.json"))
    events = [("frame", _frame(0, i)) for i in range(4)]
    events.append(("frame", pa.array([1, 2, 3])))  # a bad message is logged and skipped
    events += [
        ("frame", _frame(0, 4, reason=EndReason.SUCCESS)),
        ("frame", _frame(0, 0, Phase.DONE, EndReason.SUCCESS)),
        ("frame", _frame(0, 0, Phase.RESETTING, EndReason.SUCCESS)),
    ]
    node = MockNode(events)
    load_node("expert").main(node)
    actions = [decode_action(a) for a in node.outputs["action"]]
    assert len(actions) == 1 + 4  # warm-up, then one per running frame before the end
    np.testing.assert_array_equal(actions[0], np.zeros(4))
    # No `stop`: the sim is left idle and the recorder ends the run once the last attempt is committed.
    assert [decode_control(c) for c in node.outputs["control"]] == [Control.NEXT]
    note, done = [decode_annotation(a) for a in node.outputs["annotation"]]
    assert done == {"episode_index": 0, "controller_done": True}
    assert note["episode_index"] == 0 and note["defects"][0]["family"] == "blur"
    assert note["defects"][0]["camera"] == "wrist"
    out = capsys.readouterr()
    assert "episode 1/1 (sim attempt 0): success=True reason=success steps=5" in out.out
    assert "ignored bad frame" in out.err
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["episodes"] == 1 and stats["results"][0]["defects"] == note["defects"]


def test_expert_node_reports_bad_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPILOT_EPISODES", "zero")
    with pytest.raises(SystemExit) as exc:
        load_node("expert").main(MockNode([]))
    assert exc.value.code == 2


def test_episode_count_and_tick_default_to_the_run_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The expert stops at the run's episode count (the recorder's) and ticks at its frame period."""
    from sim_teleop.autopilot.session import AutopilotConfig

    unset = ("AUTOPILOT_EPISODES", "AUTOPILOT_TICK_MS", "RECORD_NUM_EPISODES", "SIM_FPS", "DEFECTS_CONFIG")
    for var in unset:
        monkeypatch.delenv(var, raising=False)
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"repo_id": "t/run", "num_episodes": 3, "fps": 20, "writer": "inline"}))
    monkeypatch.setenv("RECORD_CONFIG", str(run))
    cfg = AutopilotConfig.load()
    assert (cfg.episodes, cfg.seed, cfg.tick_s) == (3, 0, pytest.approx(0.05))
    monkeypatch.setenv("RECORD_NUM_EPISODES", "4")
    assert AutopilotConfig.load().episodes == 4
    monkeypatch.setenv("AUTOPILOT_EPISODES", "6")  # the autopilot's own name wins
    assert AutopilotConfig.load().episodes == 6
