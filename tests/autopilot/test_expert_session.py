"""The expert's episode loop without a sim: which outputs each kind of frame gets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim_teleop.autopilot.session import AutopilotSession
from sim_teleop.control.advance import RESEND_AFTER
from sim_teleop.control.defects import DefectConfig, plan_for_episode
from sim_teleop.control.expert import ExpertParams
from sim_teleop.messages import (
    ACTION,
    ANNOTATION,
    CONTROL,
    IMAGE_SHAPE,
    Control,
    EndReason,
    Frame,
    Phase,
    decode_action,
    decode_annotation,
    decode_control,
)

START_TCP = np.array([0.49, 0.0, 0.078], np.float32)


def frame(
    index: int, frame_index: int, phase: Phase = Phase.RUNNING, reason: EndReason = EndReason.NONE
) -> Frame:
    state = np.zeros(18, np.float32)
    state[15:18] = START_TCP
    cube = np.array([0.4, 0.05, 0.02, 1, 0, 0, 0], np.float32)
    img = np.zeros(IMAGE_SHAPE, np.uint8)
    return Frame(
        index,
        frame_index,
        phase,
        0.1 * frame_index,
        state,
        np.zeros(4, np.float32),
        0.0,
        reason is EndReason.SUCCESS,
        img,
        img,
        cube,
        end_reason=reason,
    )


def ids(outputs: list) -> list[str]:
    return [o for o, _, _ in outputs]


def controls(outputs: list) -> list[Control]:
    return [decode_control(v) for o, v, _ in outputs if o == CONTROL]


def test_params_are_reproducible_and_varied() -> None:
    assert ExpertParams.sample(3, 7) == ExpertParams.sample(3, 7)
    drawn = [ExpertParams.sample(0, i) for i in range(30)]
    assert len({p.speed for p in drawn}) == 30
    assert len({p.start_delay for p in drawn}) > 2
    assert ExpertParams.sample(1, 0) != ExpertParams.sample(0, 0)
    for p in drawn:
        assert 0 < p.speed <= 0.04 and 0.03 <= p.pregrasp_height < p.hover_height
        assert np.hypot(*p.approach_offset) <= 0.04 + 1e-9


def test_attempt_start_sends_annotation_then_actions() -> None:
    cfg = DefectConfig.from_dict({"probability": 1.0, "families": ["pause"], "seed": 4})
    lines: list[str] = []
    s = AutopilotSession(2, seed=0, defects=cfg, report=lines.append)
    first = s.on_frame(frame(0, 0))
    assert ids(first) == [ANNOTATION, ACTION]
    note = decode_annotation(first[0][1])
    assert note == {"episode_index": 0, **plan_for_episode(cfg, 4, 0).annotation()}
    assert note["defects"][0]["family"] == "pause"
    assert ids(s.on_frame(frame(0, 1))) == [ACTION]
    assert decode_action(s.on_frame(frame(0, 2))[0][1]).shape == (4,)
    assert lines == []


def test_next_through_done_and_resetting_then_stop_after_n() -> None:
    lines: list[str] = []
    s = AutopilotSession(2, report=lines.append)
    for i in range(5):
        s.on_frame(frame(0, i))
    assert controls(s.on_frame(frame(0, 5, reason=EndReason.SUCCESS))) == [Control.NEXT]
    assert (
        len(lines) == 1 and "episode 1/2" in lines[0] and "success=True" in lines[0] and "steps=6" in lines[0]
    )
    assert s.on_frame(frame(0, 0, Phase.DONE, EndReason.SUCCESS)) == []  # already asked
    assert controls(s.on_frame(frame(0, 0, Phase.RESETTING, EndReason.SUCCESS))) == [Control.NEXT]
    assert s.on_frame(frame(0, 1, Phase.RESETTING, EndReason.SUCCESS)) == []
    assert ids(s.on_frame(frame(1, 0))) == [ANNOTATION, ACTION]  # clean: annotation with no defects
    assert controls(s.on_frame(frame(1, 1, reason=EndReason.TIME_LIMIT))) == [Control.NEXT]
    assert "success=False" in lines[1] and "time_limit" in lines[1]
    assert controls(s.on_frame(frame(1, 0, Phase.RESETTING, EndReason.TIME_LIMIT))) == [Control.STOP]
    assert s.stopped and s.on_frame(frame(1, 1, Phase.RESETTING, EndReason.TIME_LIMIT)) == []
    summary = s.summary()
    assert summary["episodes"] == 2 and summary["successes"] == 1
    json.dumps(summary)


def test_operator_next_counts_as_saved_and_missed_end_frame_is_handled() -> None:
    s = AutopilotSession(1, report=lambda _l: None)
    s.on_frame(frame(0, 0))
    s.on_frame(frame(0, 1))
    # The end frame itself was dropped: the first done frame carries the reason.
    assert controls(s.on_frame(frame(0, 0, Phase.DONE, EndReason.NEXT))) == [Control.NEXT]
    assert s.results[0].steps == 2
    assert controls(s.on_frame(frame(0, 0, Phase.RESETTING, EndReason.NEXT))) == [Control.STOP]


def test_rerecorded_attempt_is_not_counted() -> None:
    s = AutopilotSession(1, report=lambda _l: None)
    s.on_frame(frame(0, 0))
    assert controls(s.on_frame(frame(0, 0, Phase.RESETTING, EndReason.RERECORD))) == [Control.NEXT]
    assert s.results == []


def test_command_repeated_when_the_sim_does_not_move_on() -> None:
    s = AutopilotSession(3, report=lambda _l: None)
    s.on_frame(frame(0, 0))
    s.on_frame(frame(0, 1, reason=EndReason.SUCCESS))
    done = [frame(0, i, Phase.DONE, EndReason.SUCCESS) for i in range(2 * RESEND_AFTER + 5)]
    sent = [controls(s.on_frame(f)) for f in done]
    repeats = [i for i, c in enumerate(sent) if c]  # the end frame sent it: done frame k is k + 1 later
    assert repeats == [RESEND_AFTER - 1, 2 * RESEND_AFTER - 1]


def test_rejects_zero_episodes() -> None:
    with pytest.raises(ValueError):
        AutopilotSession(0)
