"""Round trips and every malformed-input case of the wire messages."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sim_teleop.messages import (
    ACTION_DIM,
    IMAGE_SHAPE,
    STATE_DIM,
    Control,
    EndReason,
    Frame,
    MessageError,
    Phase,
    QualityReport,
    Verdict,
    decode_action,
    decode_annotation,
    decode_control,
    decode_frame,
    decode_quality,
    encode_action,
    encode_annotation,
    encode_control,
    encode_frame,
    encode_quality,
)


def make_frame(**overrides: object) -> Frame:
    rng = np.random.default_rng(1)
    fields: dict[str, object] = dict(
        episode_index=3,
        frame_index=17,
        phase=Phase.RUNNING,
        end_reason=EndReason.SUCCESS,
        timestamp=1.7,
        tick_index=40,
        ticks_missed=2,
        state=rng.normal(size=STATE_DIM).astype(np.float32),
        action=np.array([0.1, -0.2, 0.05, 1.0], np.float32),
        reward=1.0,
        success=True,
        front=rng.integers(0, 255, IMAGE_SHAPE, dtype=np.uint8),
        wrist=rng.integers(0, 255, IMAGE_SHAPE, dtype=np.uint8),
        cube_pose=np.arange(7, dtype=np.float32),
        contact_force=3.5,
    )
    fields.update(overrides)
    return Frame(**fields)  # type: ignore[arg-type]


def test_frame_round_trip() -> None:
    frame = make_frame()
    back = decode_frame(encode_frame(frame))
    for name in (
        "episode_index",
        "frame_index",
        "phase",
        "end_reason",
        "timestamp",
        "tick_index",
        "ticks_missed",
        "success",
    ):
        assert getattr(back, name) == getattr(frame, name), name
    for name in ("state", "action", "front", "wrist", "cube_pose"):
        np.testing.assert_array_equal(getattr(back, name), getattr(frame, name))
    assert back.reward == pytest.approx(1.0) and back.contact_force == pytest.approx(3.5)


def test_frame_rejects_wrong_image_shape_and_schema() -> None:
    with pytest.raises(MessageError, match="camera front"):
        encode_frame(make_frame(front=np.zeros((64, 64, 3), np.uint8)))
    with pytest.raises(MessageError, match="schema"):
        decode_frame(pa.array([1.0, 2.0]))
    with pytest.raises(MessageError, match="Arrow array"):
        decode_frame(b"not arrow")
    two_rows = pa.concat_arrays([encode_frame(make_frame()), encode_frame(make_frame())])
    with pytest.raises(MessageError, match="one row"):
        decode_frame(two_rows)


def test_frame_rejects_unknown_phase() -> None:
    arr = encode_frame(make_frame())
    fields = [arr.field(i) for i in range(arr.type.num_fields)]
    fields[arr.type.get_field_index("phase")] = pa.array(["flying"])
    bad = pa.StructArray.from_arrays(fields, fields=list(arr.type))
    with pytest.raises(MessageError, match="flying"):
        decode_frame(bad)


def test_action_round_trip() -> None:
    np.testing.assert_array_equal(
        decode_action(encode_action([0.1, 0.2, -0.3, 1.0])), np.array([0.1, 0.2, -0.3, 1.0], np.float32)
    )
    assert decode_action(pa.array([0.1, 0.2, -0.3, 1.0], pa.float64())).dtype == np.float32


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (pa.array([0.1, 0.2, 0.3], pa.float32()), "expected 4 values"),
        (pa.array([0.1, 0.2, 0.3, 0.4, 0.5]), "expected 4 values"),
        (pa.array([0.1, float("nan"), 0.3, 0.0]), "NaN or inf"),
        (pa.array([0.1, float("inf"), 0.3, 0.0]), "NaN or inf"),
        (pa.array(["a", "b", "c", "d"]), "expected float32 or float64"),
        (pa.array([1, 2, 3, 0]), "got Arrow type int64"),  # integers are not an action
        (pa.array(list(b"abcd"), pa.uint8()), "got Arrow type uint8"),  # what dora makes of raw bytes
        (pa.array([0.1, 0.2, 0.3, 0.0], pa.float16()), "got Arrow type halffloat"),
        (pa.array([0.1, None, 0.3, 0.0]), "nulls"),
        ([0.1, 0.2, 0.3, 0.0], "Arrow array"),
    ],
)
def test_action_malformed(value: object, match: str) -> None:
    with pytest.raises(MessageError, match=match):
        decode_action(value)


def test_encode_action_rejects_nan() -> None:
    with pytest.raises(MessageError):
        encode_action([np.nan, 0, 0, 0])
    assert len(encode_action(np.zeros(ACTION_DIM))) == ACTION_DIM


def test_control_round_trip_and_errors() -> None:
    for command in Control:
        assert decode_control(encode_control(command)) is command
    with pytest.raises(MessageError, match="unknown command 'jump'"):
        decode_control(pa.array(["jump"]))
    with pytest.raises(MessageError, match="one string"):
        decode_control(pa.array([1]))
    with pytest.raises(MessageError, match="one string"):
        decode_control(pa.array(["next", "stop"]))


def test_quality_round_trip_and_errors() -> None:
    report = QualityReport(
        episode_index=4,
        score=0.8,
        verdict=Verdict.GOOD,
        reasons=["idle"],
        metrics={"idle_fraction": 0.1},
        subscores={"idle": 0.9},
        success=True,
        num_frames=50,
    )
    assert decode_quality(encode_quality(report)) == report
    with pytest.raises(MessageError, match="invalid JSON"):
        decode_quality(pa.array(["{"]))
    with pytest.raises(MessageError, match="malformed"):
        decode_quality(pa.array(['{"score": 1}']))


def test_annotation_round_trip_and_errors() -> None:
    data = decode_annotation(encode_annotation(7, {"defects": [{"family": "jitter", "severity": 0.5}]}))
    assert data == {"episode_index": 7, "defects": [{"family": "jitter", "severity": 0.5}]}
    with pytest.raises(MessageError, match="episode_index"):
        decode_annotation(pa.array(['{"defects": []}']))


def test_end_reason_saved() -> None:
    assert {r for r in EndReason if r.saved} == {
        EndReason.SUCCESS,
        EndReason.TIME_LIMIT,
        EndReason.FAILURE,
        EndReason.NEXT,
    }
