"""Calibration constants: per-frame thresholds and the "bad" boundary (half) of every metric.

How they were chosen: `scripts/bench_scorer.py --calibrate` scores clean expert episodes (in-process SimEnv
+ scripted expert, several seeds) and prints each raw metric's distribution; each `HALF` value sits well
above the clean 99th percentile (so a clean episode's sub-score stays near 1) and at or below the raw
value of the mildest injected defect of the matching family. Per-frame thresholds are physical
(speeds in m/s, brightness in grey levels) and were checked against rendered PickCube frames.
Values are overridable in `configs/quality.json`.
"""

from __future__ import annotations

POWER = 2.0
"""Sub-score s = 2 ** -((x / half) ** POWER): 0.97 at half/4, 0.5 at half, 0.06 at 2 x half."""

HALF: dict[str, float] = {
    "jitter": 0.035,  # turning fraction of the filtered command / TCP (0 straight .. 1 back-and-forth)
    "idle_pause_s": 0.95,  # longest standstill beyond its allowance (s); human <= 0.9, pause >= 1
    "look": 1.0,  # longest look / the session's usual look - 1 (`scorer.LookReference`)
    "idle_fraction": 0.35,  # fraction of frames standing still beyond the allowances (human p99 0.28)
    "spike_accel": 3.0,  # peak TCP acceleration (m/s^2)
    "spike_force": 150.0,  # peak robot-vs-world contact normal force (N)
    "saturation": 0.15,  # fraction of frames at a workspace / command limit
    "gripper_chatter": 2.5,  # gripper strokes beyond the one close of a pick (full open<->close units)
    "drop": 0.015,  # height (m) the held cube fell, or TCP lift (m) at which a held gripper opened
    "slow": 0.6,  # duration / running reference - 1
    "crawl": 0.08,  # fraction of frames of steady motion slower than crawl_speed
    "detour": 0.012,  # m out and back within one commanded movement; clean 0 (expert, human), bump >= 0.015
    "path": 0.40,  # TCP path length / ideal path length - 1; clean expert p99 0.27, human (overshoots) 0.32
    "dark": 0.15,  # mean per-frame darkness degree (0..1)
    "overexposed": 0.15,  # mean per-frame over-exposure degree (0..1)
    "blur": 0.15,  # mean per-frame blur degree (0..1)
    "frozen": 0.10,  # fraction of moving frames whose image did not change
    "partial_view": 0.15,  # mean per-frame partial-view degree (0..1)
    "spike_action": 0.2,  # one-frame out-and-back of an action dimension / its episode range (joint layouts)
    "spike_cmd": 0.04,  # m: one-frame out-and-back of the command (the arm's 4 cm per frame rate limit)
    "telemetry_freeze_s": 0.15,  # s: longest stale (bit-identical) state while the action moved
    "missing_frames": 0.5,  # frames skipped by the frame numbers: any is a gap
    "step_jumps": 0.5,  # rows whose TCP and command both moved two frames' worth: any is a gap
    "lag_frames": 0.5,  # frames the TCP's delay behind the command lies outside the clean range (any)
}

THRESHOLDS: dict[str, float] = {
    "play": 0.003,  # m: motion within this of the filtered position is tremor, not motion
    "still_speed": 0.02,  # m/s: a filtered command (TCP) slower than this stands still (hand drift)
    "idle_grip": 0.02,  # gripper command change per frame (0..1) that counts as a gripper change
    "grip_grace_s": 0.8,  # a standstill beginning this soon after a gripper change is a grasp wait ...
    "grasp_wait_s": 1.5,  # ... of which this much is the task (fingers closing, checking the grasp)
    "start_wait_s": 1.0,  # standing still before the first move: this much is getting ready
    "look_wait_s": 1.5,  # a standstill between two movements (motion resumes another way): a person's look
    "crawl_speed": 0.105,  # m/s: steady commanded motion slower than this is crawling (expert: 0.12-0.24) ...
    "crawl_ratio": 0.58,  # ... if also slower than this x the episode's cruise (0.105 / the expert's 0.18)
    "crawl_window": 3,  # frames over which the crawl speed is measured (averages the hand's noise)
    "crawl_steady": 0.01,  # m/s change per frame below which the speed counts as steady (not a ramp)
    "turn_floor": 0.002,  # m per frame: motion below this adds to the turning metric's denominator only
    "turn_jump": 0.045,  # m per frame: longer steps (beyond the 0.04 m rate limit) are spikes, not turns
    "turn_cap": 0.01,  # m per frame: faster steps weigh no more than this in the turning metric
    "sat_margin": 0.005,  # m: TCP this close to a workspace bound (x, y, top) counts as saturated
    "grip_close": 0.6,  # gripper command above this = closed (hysteresis with grip_open)
    "grip_open": 0.4,
    "drop_min_lift": 0.01,  # m: the cube (or TCP) must have been lifted this much for a drop to count
    "path_stride": 3,  # frames between path samples: high-frequency jitter does not lengthen the path
    "path_min_ideal": 0.05,  # m: floor of the ideal path length
    "backtrack_tol": 0.01,  # m below the approach's highest point at which the descent has begun
    "turn_speed": 0.03,  # m/s: an unfiltered command faster than this is turning, not standing
    # m: one axis that carried a movement may come back this far (an overshoot) without a detour; the
    # planted 4-12 cm detour bumps retrace 1.5-3.7 cm once filtered, but on two axes at once
    "detour_overshoot": 0.03,
    "path_overshoot": 0.04,  # m: the path may reverse this far along one axis (an overshoot corrected back)
    "detour_turn_s": 0.1,  # s: a standstill this short is a turning point inside a movement, not a stop
    "dark_rel_hi": 0.7,  # brightness / camera reference below this starts to count as dark ...
    "dark_rel_lo": 0.3,  # ... and below this is fully dark
    "over_clip_lo": 0.15,  # fraction of clipped-white pixels that starts to count as over-exposed ...
    "over_clip_hi": 0.5,  # ... and fully over-exposed
    "over_rel_hi": 1.5,  # brightness / camera reference above this starts to count as over-exposed ...
    "over_rel_full": 2.5,  # ... and fully
    "blur_ref": 1.35,  # sharpness ratio below this starts to count as blurred (clean renders: 1.45-1.7)
    # grey levels: a frozen camera repeats the same buffer (0); a working wrist camera sliding 1 cm a frame
    # over plain floor changes by only 0.002-0.006 (rendered, measured), which 0.005 called frozen
    "frozen_diff": 0.001,
    "jump_ratio": 1.6,  # a step this many times its neighbours' mean (TCP and command both) ...
    "jump_min_step": 0.005,  # ... and longer than this (m) is two frames of motion in one row
    "lag_min_s": 0.0,  # the TCP follows the command this soon ...
    "lag_max_s": 0.3,  # ... to this late in a clean recording (s)
    "frozen_motion": 0.006,  # m of TCP motion between two frames that must show up in the image
    # m of view motion between two images further apart (live: rendered images change with any 6 mm;
    # offline `offline.OFFLINE_FAR_MOTION`) ...
    "frozen_far_motion": 0.012,
    # ... that differ less (grey levels): live the same buffer (0); offline (`offline.OFFLINE_FAR_DIFF`)
    # one stuck image decodes 0-0.9 apart
    "frozen_far_diff": 0.001,
    "frozen_joint_far": 0.1,  # joint travel (fraction of the joints' ranges) between images that must differ
    "frozen_far_texture": 0.0,  # mean |gradient| an earlier image needs to be compared (offline: 1.3)
    # A gripper camera's view motion = sideways + this x downward path: clean wrist pairs with 5 cm of it
    # differ by >= 1.13 grey levels (221k keyframe pairs of 593 recorded episodes); lifting does not count
    "frozen_down_weight": 4.0,
    "partial_tol": 1.3,  # factor beyond a cell's clean brightness range at which the cell is off ...
    "partial_lo": 2.0,  # ... cells off that are still nothing (the cube filling wrist cells) ...
    "partial_full": 4.0,  # ... and that are a fully defective frame (a quarter of the 4x4 grid) ...
    "partial_max": 8.0,  # ... and beyond which the whole frame changed (exposure), not part of it
}

BRIGHTNESS_REF: dict[str, float] = {"front": 75.0, "wrist": 55.0, "*": 100.0}
"""Typical clean mean luma per camera (PickCube, fast render); "*" for cameras of other datasets."""

WEIGHTS: dict[str, float] = {
    "jitter": 1.0,
    "idle": 1.0,
    "spike": 1.0,
    "saturation": 0.5,
    "gripper_chatter": 1.0,
    "drop": 1.0,
    "slow": 1.0,
    "detour": 1.0,
    "path": 1.0,
    "dark": 0.5,  # visual weights apply per camera
    "overexposed": 0.5,
    "blur": 0.5,
    "frozen": 0.5,
    "partial_view": 0.5,
    "telemetry_freeze": 1.0,
    "gap": 1.0,
    "lag": 1.0,
}

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
