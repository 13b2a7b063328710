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
from sim_teleop.sim.clock import TickSchedule

REPO = Path(__file__).resolve().parents[1]


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


def test_episode_count_defaults_to_the_recorder_config(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_node("expert")
    monkeypatch.delenv("AUTOPILOT_EPISODES", raising=False)
    monkeypatch.setenv("RECORD_CONFIG", "configs/autopilot.json")
    cfg = json.loads((REPO / "configs" / "autopilot.json").read_text())
    assert module.default_episodes() == cfg["num_episodes"]
    monkeypatch.delenv("RECORD_CONFIG")
    assert module.default_episodes() == module.DEFAULT_EPISODES


def test_clock_node_ends_when_its_input_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPILOT_TICK_MS", "5")
    node = MockNode([{"type": "ERROR", "error": "Timeout"}] * 3 + [{"type": "INPUT_CLOSED", "id": "frame"}])
    load_node("clock").main(node)
    assert len(node.outputs["tick"]) >= 1
    assert node.outputs["tick"][0].to_pylist() == [0]


def test_tick_schedule_keeps_a_grid_and_skips_instead_of_bursting() -> None:
    s = TickSchedule(0.1)
    s.start(10.0)
    assert s.wait_s(10.0) == 0
    assert s.fire(10.0) == 0 and s.wait_s(10.05) == pytest.approx(0.05)
    assert s.fire(10.103) == 1  # a little late: the grid stays (next due 10.2, no drift)
    assert s.wait_s(10.15) == pytest.approx(0.05)
    assert s.fire(10.45) == 2  # 0.25 s late: ticks due at 10.3 and 10.4 are skipped, not burst
    assert s.skipped == 2 and s.wait_s(10.45) == pytest.approx(0.05)
    assert s.late_ms(0.0) == pytest.approx(0.0) and s.late_ms(1.0) == pytest.approx(250.0)
    with pytest.raises(ValueError):
        TickSchedule(0.0)
