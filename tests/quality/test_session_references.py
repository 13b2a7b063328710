"""The session references a person is judged against: their looks' spread, and hesitations scaled by it.

A varied typist (looks 0.3-1.5 s, reactions 0.2-0.8 s) stops on the way down as long as they look; a
scripted expert never stops. The same 1.5 s standstill is a hesitation for one and not for the other.
"""

from __future__ import annotations

import pytest

from sim_teleop.quality import QualityConfig
from sim_teleop.quality import calibration as cal
from sim_teleop.quality.scorer import (
    HESITATION_SCALE_MAX,
    LookReference,
    hesitation_scale,
    subscores_from_raw,
)


def _looks(*recent: float) -> LookReference:
    ref = LookReference(cal.LOOK_PRIOR_S, cal.LOOK_FLOOR_S, window=25)
    for look in recent:
        ref.update(look)
    return ref


def _idle(pause_s: float, usual_look_s: float) -> float:
    raw = {"duration_s": 8.0, "idle_pause_s": pause_s, "idle_fraction": 0.0, "look_s": 0.0}
    scale = hesitation_scale(usual_look_s)
    return subscores_from_raw(raw, QualityConfig(), 8.0, cal.LOOK_PRIOR_S, scale)["idle"]


def test_a_varied_persons_looks_widen_their_reference() -> None:
    """Median plus one robust spread: a session of 0.3-1.4 s looks accepts its own 1.4 s look."""
    varied = _looks(0.3, 1.4, 0.5, 1.2, 0.4, 1.3, 0.6, 0.9)
    median = sorted([cal.LOOK_PRIOR_S, 0.3, 1.4, 0.5, 1.2, 0.4, 1.3, 0.6, 0.9])[4]
    assert varied.value > median + 0.2
    assert 1.4 / varied.value - 1.0 < 1.0  # the bad boundary is twice the reference


def test_a_steady_expert_keeps_the_floor() -> None:
    assert _looks(*[0.3] * 20).value == pytest.approx(cal.LOOK_FLOOR_S)
    assert _looks().value == pytest.approx(cal.LOOK_PRIOR_S)  # the first episode: a person's look


def test_a_one_second_pause_is_a_hesitation_for_an_operator_who_glances() -> None:
    assert _idle(1.0, 0.3) < 0.5
    assert _idle(0.6, 0.3) > 0.5


def test_a_person_who_looks_may_stop_on_the_way() -> None:
    assert _idle(1.5, 1.0) > 0.5
    assert _idle(1.5, 0.4) < 0.5


def test_a_three_second_standstill_is_a_hesitation_for_anyone() -> None:
    assert _idle(3.0, cal.LOOK_FLOOR_S * HESITATION_SCALE_MAX * 10) < 0.5


def test_the_usual_look_is_what_the_operator_did_not_the_prior() -> None:
    """The first episode is judged by its own look: a glancing hand's 1 s pause is caught from the start."""
    fresh = _looks()
    assert fresh.usual(0.3) == pytest.approx(0.3)
    assert hesitation_scale(fresh.usual(0.3)) == 1.0
    assert _looks(1.2, 1.0, 1.4).usual(0.3) == pytest.approx(1.1)
