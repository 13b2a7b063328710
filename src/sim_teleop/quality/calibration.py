"""Calibration constants shared by the families: the sub-score curve, the verdict threshold, the
references' priors, the thresholds more than one family reads, and the cameras' clean brightness.

Each family's own bad boundary (`half`), weight and thresholds sit in its declaration
(`quality.families`); `config.HALF`, `config.WEIGHTS` and `config.THRESHOLDS` collect them. How they
were chosen: `scripts/bench_scorer.py --calibrate` scores clean expert episodes (in-process SimEnv
+ scripted expert, several seeds) and prints each raw metric's distribution; each `half` sits well
above the clean 99th percentile (so a clean episode's sub-score stays near 1) and at or below the raw
value of the mildest injected defect of the matching family. Per-frame thresholds are physical
(speeds in m/s, brightness in grey levels) and were checked against rendered PickCube frames.
Values are overridable in `configs/quality.json`.
"""

from __future__ import annotations

POWER = 2.0
"""Sub-score s = 2 ** -((x / half) ** POWER): 0.97 at half/4, 0.5 at half, 0.06 at 2 x half."""

THRESHOLDS: dict[str, float] = {
    "play": 0.003,  # m: motion within this of the filtered position is tremor, not motion
    "still_speed": 0.02,  # m/s: a filtered command (TCP) slower than this stands still (hand drift)
    # s of a wait around a gripper change that is the task (fingers closing, checking the grasp): the
    # idle meter allows it, the jump meter lets the TCP pop up within it
    "grasp_wait_s": 1.5,
}
"""Thresholds more than one family reads; each family declares its own (`Family.thresholds`)."""

BRIGHTNESS_REF: dict[str, float] = {"front": 75.0, "wrist": 55.0, "*": 100.0}
"""Typical clean mean luma per camera (PickCube, fast render); "*" for cameras of other datasets."""

DEFAULT_THRESHOLD = 0.8
"""Aggregate below this is `bad` (a single sub-score at its bad boundary pulls a clean episode to ~0.93;
one at 2 x half to ~0.8)."""

LOOK_PRIOR_S = 1.5
"""Prior for the running look reference: a person's look before descending (a session's own looks
replace it); a look twice the reference is the bad boundary."""
LOOK_FLOOR_S = 0.5
"""The look reference never goes below this: a scripted expert turns at a waypoint in 0.2-0.4 s, and a
standstill under 1 s between two of its movements is no hesitation yet."""

REFERENCE_DURATION_S = 4.3
"""Prior for the running time-to-success reference (clean expert median)."""
PERSON_PACE = 3.0
"""How much longer than the expert a person's clean pick may take before the prior disagrees: the prior
votes for any duration from `REFERENCE_DURATION_S` to this many times it. A keyboard moves at 0.1 m/s
against the expert's ~0.23 m/s cruise, and a person looks before moving: 12 clean human-driver episodes
took 6.7-13.8 s (1.6-3.2x); judged against the expert's 4.3 s as one vote, the session's third episode
(13.8 s, after 6.7 and 8.8 s) was `slow`."""

CELL_RANGE: dict[str, tuple[tuple[tuple[float, ...], ...], ...]] = {
    "front": (
        ((49, 70, 76, 49), (57, 104, 89, 57), (52, 56, 72, 65), (61, 61, 56, 56)),
        ((50, 155, 154, 50), (59, 157, 167, 58), (54, 105, 139, 66), (62, 63, 61, 57)),
        (
            (0.048, 0.104, 0.104, 0.047),
            (0.062, 0.126, 0.189, 0.067),
            (0.035, 0.098, 0.093, 0.026),
            (0.013, 0.013, 0.028, 0.014),
        ),
    ),
    "wrist": (
        ((46, 46, 46, 46), (46, 46, 46, 46), (46, 46, 46, 46), (43, 45, 46, 42)),
        ((72, 72, 72, 72), (72, 72, 72, 72), (112, 92, 110, 72), (152, 180, 239, 134)),
        ((0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0), (0.031, 0.009, 0, 0.006)),
    ),
}
"""Clean range of each cell of a 4x4 grid per camera (rows top to bottom): luma low and high, contrast
low (`visual.cell_stats`; a flat cell's 0 never counts): the 0.5th / 99.5th percentiles over 373
rendered PickCube frames (8 expert episodes, placements 7000-7007, none of the benchmark's). A bright
wrist cell at the bottom is the cube coming close. Cameras without a range (other datasets) get no
`partial_view` metric."""
