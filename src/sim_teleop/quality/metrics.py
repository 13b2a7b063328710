"""Running per-episode metrics: O(1) work and memory per frame, the same code live and offline.

`EpisodeAccumulator.add_frame` is called once per recorded (phase `running`) frame; `raw_metrics` at the
end returns every raw value. Each metric family below has one meter class that owns its state, its
per-frame update and its raw values; the accumulator reads the signals and feeds the meters. Each
signal is used in its own unit (TCP and commanded target in m, gripper as 0..1, contact force in N,
images as grey levels) - never one vector of mixed units.

Raw metrics (dt = 1 / fps; p = TCP position, c = commanded target, g = gripper command 0..1):

- jitter: turning fraction  sum w (1 - cos angle(v_t, v_t-1)) / (2 sum w + N floor^2), w = min(|v_t||v_t-1|,
  cap^2), on frame-to-frame motion v of p and of c (the larger of the two). 0 for straight motion, ~0.5
  for random steps, 1 for pure back-and-forth; one outlier moves it little (that is the spike metric).
- idle: a frame is idle when the play-filtered command (TCP without one) moves slower than still_speed;
  a standstill before the first move, or at a gripper change, counts only beyond its allowance
  (`start_wait_s`, `grasp_wait_s`); `idle_fraction` and `idle_pause_s` (longest idle excess, s).
- spike: peak |d2p|/dt^2 (m/s^2) and peak contact force with the world (N, when the frame carries it).
- saturation: fraction of frames with a commanded offset at its limit or the TCP within `sat_margin`
  of the workspace bounds (x, y, top; touching the table is the task, not saturation).
- gripper_chatter: total variation of g minus the one stroke a pick needs (0 for a clean pick).
- drop: largest fall of the cube from its highest lifted point (privileged cube pose), or the TCP lift
  above the grasp height at which a closed gripper re-opened (works without the cube pose, offline).
- path: TCP path sampled every `path_stride` frames / ideal path - 1. Horizontally the ideal is the straight
  start -> grasp point -> end; vertically, an approach may rise to a safe height and then descend, and a
  lift only rises, so every vertical motion against that (rising again after descending, sinking while
  carrying) is a detour counted twice (out and back); the rest of the vertical path is needed.
- detour: how far the command went out of its way and came back (m): its path is cut into movements at
  standstills longer than `detour_turn_s` and at gripper changes; per movement, half of (distance
  travelled - net displacement) summed over the axes. A straight move, an L-shaped or a curved one
  (each axis monotonic) scores 0; a stop-and-turn at a waypoint starts a new movement; an excursion
  that goes 5 cm out and comes back scores 0.05 m, even through the one zero-velocity frame at its far
  end. Needs the commanded target: the TCP lags the command and rounds off every waypoint stop, so on
  the TCP alone clean approaches look like excursions.
- slow: duration / running reference (see `scorer.RunningReference`) - 1, computed by the scorer, and
  `crawl_fraction`: frames of steady commanded motion (TCP motion without a command) slower than
  `crawl_speed`, excluding speed-up / slow-down ramps.
- per camera: mean per-frame darkness, over-exposure and blur degrees (0..1) and the fraction of
  image pairs with TCP motion between them whose images are identical (frozen: consecutive frames, or
  sampled keyframes further apart offline, where a camera stuck from mid-episode shows); for a camera
  with a calibrated cell
  range (`CELL_RANGE`), `partial_view`: the mean per-frame degree of a defect over part of the view
  (smudge, occlusion, glare), from how many cells of a 4x4 grid left their clean brightness range.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim_teleop.images import grey
from sim_teleop.quality.calibration import BRIGHTNESS_REF, CELL_RANGE
from sim_teleop.quality.config import QualityConfig, SignalLayout
from sim_teleop.quality.integrity import (
    CommandSpikeMeter,
    FreezeMeter,
    GapMeter,
    JumpMeter,
    LagMeter,
    Median3,
)
from sim_teleop.quality.integrity import norm as _norm
from sim_teleop.quality.visual import Gradients, abs_gradients, frame_difference, image_stats, partial_cells

if TYPE_CHECKING:
    from sim_teleop.quality.joints import ActionSpikeMeter, JointTravel


def _clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


class PlayFilter:
    """A per-axis play (backlash) operator: the output follows the input only once it is more than
    `radius` away, so a hand's millimetre tremor and drift leave it still while real motion passes
    through unchanged (minus the radius at each reversal). O(1) per point.

    It is what lets the standstill, crawl and out-and-back tests work on a human's noisy signal: a held
    pose reads as a held pose, not as endless slow wandering.
    """

    __slots__ = ("radius", "y")

    def __init__(self, radius: float) -> None:
        self.radius = radius
        self.y: np.ndarray | None = None

    def add(self, x: np.ndarray) -> np.ndarray | None:
        """Add a point; returns the output's step from the previous point (None for the first)."""
        prev = self.y
        if prev is None or self.radius <= 0.0:
            self.y = np.array(x, dtype=np.float64)
        else:
            self.y = np.clip(prev, x - self.radius, x + self.radius)
        return None if prev is None else self.y - prev


ISOLATED_TURN = 0.2
"""1 - cos of the angle (~37 degrees) beyond which a turn needs a turning neighbour to count (letting go
of one of two held arrow keys turns by 45)."""


class TurningMeter:
    """Turning fraction of a 3-D trajectory (see module docstring), O(1) per point.

    Each pair of consecutive steps adds w (1 - cos angle) to the numerator and 2 w to the denominator,
    with w = min(|v_t| |v_t-1|, cap^2): fast steps do not outweigh slow ones beyond `cap`, so the value is
    close to the share of moving frames that turn, and one huge outlier step counts like any other pair.
    Jitter turns again and again; a lone corner between straight moves (a keyboard operator switching
    from one arrow key to another, a quick reversal) is not jitter, so a turn counts only when the pair
    before or after it turns too (by more than `ISOLATED_TURN`); each pair is settled one point late.
    """

    __slots__ = (
        "cap2",
        "count",
        "den",
        "floor2",
        "jump",
        "num",
        "pending",
        "prev_p",
        "prev_turned",
        "prev_v",
        "prev_vn",
    )

    def __init__(self, floor: float, cap: float, jump: float) -> None:
        self.floor2 = floor * floor
        self.cap2 = cap * cap
        self.jump = jump  # a step longer than this is a spike (the spike metric's job), not a turn
        self.prev_p: np.ndarray | None = None
        self.prev_v: np.ndarray | None = None
        self.prev_vn = 0.0
        self.num = 0.0
        self.den = 0.0
        self.count = 0
        self.pending = 0.0  # the last pair's w (1 - cos), not yet known to be part of repeated turning
        self.prev_turned = False  # the pair before it turned

    def add(self, p: np.ndarray) -> np.ndarray | None:
        """Add a point; returns the step from the previous point (None for the first)."""
        if self.prev_p is None:
            self.prev_p = p
            return None
        v = p - self.prev_p
        vn = float(math.sqrt(float(v @ v)))
        if self.prev_v is not None:
            mag = vn * self.prev_vn
            if mag > 0.0 and vn <= self.jump and self.prev_vn <= self.jump:
                w = min(mag, self.cap2)
                turn = 1.0 - float(v @ self.prev_v) / mag
                self.den += 2.0 * w
                turned = turn > ISOLATED_TURN
                if not turned:  # a gentle bend always counts (a trembling hand's, a curve's)
                    self.num += w * turn
                    self.pending = 0.0
                elif self.prev_turned:  # turning again: this pair and a previous one still waiting
                    self.num += self.pending + w * turn
                    self.pending = 0.0
                else:
                    self.pending = w * turn
                self.prev_turned = turned
            else:
                self.pending, self.prev_turned = 0.0, False
            self.count += 1
        self.prev_p, self.prev_v, self.prev_vn = p, v, vn
        return v

    @property
    def value(self) -> float:
        return self.num / (self.den + self.count * self.floor2) if self.count else 0.0


RETRACE_AXIS_M = 0.005
"""m an axis must come back within a movement to count as retraced (for the overshoot test)."""


class RetraceMeter:
    """Distance gone out and back within continuous motion (`detour` in the module docstring), O(1) a point.

    Per movement it keeps the start, the latest point and the per-axis distance travelled; a movement
    ends after more than `join` consecutive still steps (a turn through zero velocity lasts one sample)
    or at `cut()`. When one axis alone came back, by at most `overshoot` (m), and it carried the
    movement, that is a person's overshoot corrected back (a key let go late, then a tap): not a detour.
    An excursion (out sideways and back while moving on, as the planted detours go sideways and up)
    comes back on two axes at once.
    """

    __slots__ = ("done", "end", "join", "moving", "overshoot", "start", "still", "still_run", "travel")

    def __init__(self, still: float, join: int, overshoot: float = 0.0) -> None:
        self.still = still  # a step at most this long (m) is standing still
        self.join = join
        self.overshoot = overshoot
        self.done = 0.0
        self.start: np.ndarray | None = None
        self.end: np.ndarray | None = None
        self.travel = np.zeros(3)
        self.moving = False
        self.still_run = 0

    def add(self, c: np.ndarray, step: np.ndarray | None, moving: bool | None = None) -> None:
        """Point `c`, reached by `step` from the previous point (None for the first point); `moving`
        overrides the test of the step's length against `still`."""
        if step is None:
            return
        if (_norm(step) > self.still) if moving is None else moving:
            if not self.moving:
                self.moving, self.start, self.travel = True, c - step, np.zeros(3)
            self.still_run = 0
        else:
            self.still_run += 1
            if self.still_run > self.join:
                self.cut()
                return
        if self.moving:
            self.travel += np.abs(step)
            self.end = c

    def cut(self) -> None:
        """End the current movement (a gripper change: reaching down then lifting is not a detour)."""
        self.done += self._open()
        self.moving = False

    def _open(self) -> float:
        if not self.moving or self.start is None or self.end is None:
            return 0.0
        net = np.abs(self.end - self.start).tolist()
        backs = [max(0.0, 0.5 * (t - g)) for t, g in zip(self.travel.tolist(), net, strict=True)]
        out = sum(backs)
        retraced = [a for a, b in enumerate(backs) if b > RETRACE_AXIS_M]
        if len(retraced) == 1:  # one axis came back (a key let go late, then a tap), not an excursion
            a = retraced[0]
            if backs[a] <= self.overshoot and net[a] > backs[a]:
                out -= backs[a]
        return out

    @property
    def value(self) -> float:
        return self.done + self._open()


class Travel(NamedTuple):
    """How far the TCP went since the episode began (m): its path, the horizontal part of it, and the
    part of it that went down."""

    path: float
    lateral: float
    down: float


FROZEN_HISTORY = 16
"""Earlier images a camera meter keeps to compare an image with when its consecutive pair says nothing
(offline at the default keyframe stride: about 8 keyframes and the frame after each, >= 32 frames back;
every frame: 16 frames back, 5 cm of view motion at 3 mm a frame)."""

ON_GRIPPER = ("wrist", "hand", "gripper", "eye_in_hand")
"""Camera names that say the camera rides on the gripper (its view moves with the TCP)."""


class CameraMeter:
    """Darkness, over-exposure, blur, frozen-frame and partial-view statistics of one camera, O(1) a frame."""

    __slots__ = (
        "blur_sum",
        "cell_range",
        "dark_sum",
        "frozen",
        "history",
        "moving_pairs",
        "n",
        "on_gripper",
        "over_sum",
        "partial_sum",
        "prev",
        "prev_frame",
        "prev_travel",
        "ref",
        "th",
    )

    def __init__(self, camera: str, thresholds: Mapping[str, float]) -> None:
        self.th = thresholds
        self.ref = BRIGHTNESS_REF.get(camera, BRIGHTNESS_REF["*"])
        self.n = 0
        self.dark_sum = 0.0
        self.over_sum = 0.0
        self.blur_sum = 0.0
        self.moving_pairs = 0
        self.frozen = 0
        self.prev: np.ndarray | None = None
        self.prev_frame = -2
        self.prev_travel = 0.0
        # Earlier images with the view motion up to them, for images further apart (see `add`).
        self.history: deque[tuple[float, int, np.ndarray, float]] = deque(maxlen=FROZEN_HISTORY)
        self.on_gripper = any(word in camera.lower() for word in ON_GRIPPER)
        rng = CELL_RANGE.get(camera)
        self.cell_range = np.asarray(rng, dtype=np.float32) if rng is not None else None
        self.partial_sum = 0.0

    def add(self, image: np.ndarray, frame: int, travel: Travel) -> None:
        """One image of frame number `frame`; `travel`: how far the TCP went up to this frame."""
        th = self.th
        g = grey(image)
        grads = abs_gradients(g)
        st = image_stats(g, grads)
        rel = st.brightness / self.ref
        dark = _clip01((th["dark_rel_hi"] - rel) / (th["dark_rel_hi"] - th["dark_rel_lo"]))
        over = max(
            _clip01((st.clipped - th["over_clip_lo"]) / (th["over_clip_hi"] - th["over_clip_lo"])),
            _clip01((rel - th["over_rel_hi"]) / (th["over_rel_full"] - th["over_rel_hi"])),
        )
        # A frame that is mostly black or white has no edges left to judge sharpness by.
        blur = 0.0 if max(dark, over) > 0.5 else _clip01(1.0 - st.sharpness / th["blur_ref"])
        self.n += 1
        self.dark_sum += dark
        self.over_sum += over
        self.blur_sum += blur
        if self.cell_range is not None:
            self.partial_sum += self._partial(g, grads)
        self._frozen(g, frame, travel, st.texture)

    def _frozen(self, g: np.ndarray, frame: int, travel: Travel, texture: float) -> None:
        """Consecutive images must differ once the TCP moved `frozen_motion` between them. Any other image
        (slower motion, or sampled keyframes further apart offline) is compared with the latest earlier
        image the view moved `frozen_far_motion` since - a camera stuck from mid-episode, or late in it,
        shows there at any sampling stride, where a video encoder's repeats of near-static frames do not.
        A camera on the gripper looking down sees a lift as a slight zoom over the same scene (0.3-1.6
        grey levels over 5-11 cm), a move towards the scene or sideways as a large change: its view motion
        is the sideways path plus `frozen_down_weight` x the downward path. An earlier image plainer than
        `frozen_far_texture` (mean |gradient|) cannot show motion: offline, a wrist camera over plain floor
        decodes nearly the same image 5 cm on, as a stuck one does."""
        th = self.th
        view = travel.lateral + th["frozen_down_weight"] * travel.down if self.on_gripper else travel.path
        near = (
            frame == self.prev_frame + 1
            and self.prev is not None
            and travel.path - self.prev_travel > th["frozen_motion"]
        )
        if near:
            assert self.prev is not None
            self.moving_pairs += 1
            if frame_difference(g, self.prev) < th["frozen_diff"]:
                self.frozen += 1
        else:
            need = th["frozen_far_motion"]
            ref, tex = next(
                ((r, x) for v, f, r, x in reversed(self.history) if view - v > need and frame - f > 1),
                (None, 0.0),
            )
            if ref is not None and tex >= th["frozen_far_texture"]:
                self.moving_pairs += 1
                if frame_difference(g, ref) < th["frozen_far_diff"]:
                    self.frozen += 1
        self.prev, self.prev_frame, self.prev_travel = g, frame, travel.path
        self.history.append((view, frame, g, texture))

    def _partial(self, g: np.ndarray, grads: Gradients) -> float:
        """Partial-view degree of one image: 0 up to `partial_lo` cells out of their clean range, 1 from
        `partial_full` (a quarter of a 4x4 grid); more than `partial_max` cells is a whole-frame change
        (lighting, exposure: the dark and over-exposed metrics' job), not a partial view."""
        assert self.cell_range is not None
        th = self.th
        off = partial_cells(g, self.cell_range, th["partial_tol"], grads)
        if off > th["partial_max"]:
            return 0.0
        return _clip01((off - th["partial_lo"]) / (th["partial_full"] - th["partial_lo"]))

    def raw(self) -> dict[str, float]:
        if self.n == 0:
            return {}
        out = {
            "dark": self.dark_sum / self.n,
            "overexposed": self.over_sum / self.n,
            "blur": self.blur_sum / self.n,
            "frozen": self.frozen / self.moving_pairs if self.moving_pairs else 0.0,
            "images": float(self.n),
        }
        if self.cell_range is not None:
            out["partial_view"] = self.partial_sum / self.n
        return out


class SignalReader:
    """Picks the physical signals out of one frame: TCP and commanded xyz (m), gripper command (0..1)."""

    __slots__ = ("axyz_idx", "grip_action", "grip_state", "tcp_idx")

    def __init__(self, layout: SignalLayout) -> None:
        self.tcp_idx = list(layout.tcp) if layout.tcp is not None else None
        self.axyz_idx = list(layout.action_xyz) if layout.action_xyz is not None else None
        # (index, full scale) of the gripper command: the action's when it has one, else the state's.
        self.grip_action = (
            (layout.action_gripper, layout.action_gripper_max) if layout.action_gripper is not None else None
        )
        self.grip_state = (
            (layout.state_gripper, layout.state_gripper_max) if layout.state_gripper is not None else None
        )

    def read(
        self, state: np.ndarray, action: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray | None, float | None]:
        """(p, c, g) of one frame; None for a signal the layout does not have."""
        state = np.asarray(state, dtype=np.float64)
        action = np.asarray(action, dtype=np.float64)
        p = state[self.tcp_idx] if self.tcp_idx is not None else None
        c = action[self.axyz_idx] if self.axyz_idx is not None else None
        if self.grip_action is not None:
            g: float | None = _clip01(float(action[self.grip_action[0]]) / self.grip_action[1])
        elif self.grip_state is not None:
            g = _clip01(float(state[self.grip_state[0]]) / self.grip_state[1])
        else:
            g = None
        return p, c, g


class JitterMeter:
    """`jitter`: the turning fraction of the TCP and of the command; the larger one is the metric."""

    __slots__ = ("cmd", "tcp")

    def __init__(self, th: Mapping[str, float]) -> None:
        self.tcp = TurningMeter(th["turn_floor"], th["turn_cap"], th["turn_jump"])
        self.cmd = TurningMeter(th["turn_floor"], th["turn_cap"], th["turn_jump"])

    def add(self, p: np.ndarray | None, c: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Returns the frame-to-frame steps of the TCP and of the command (None where there is none)."""
        v = self.tcp.add(p) if p is not None else None
        cmd_step = self.cmd.add(c) if c is not None else None
        return v, cmd_step

    def raw(self) -> dict[str, float]:
        tcp, cmd = self.tcp.value, self.cmd.value
        return {"jitter_tcp": tcp, "jitter_cmd": cmd, "jitter": max(tcp, cmd)}


SAME_WAY_COS = 0.8
"""cos of the angle (~37 degrees) within which motion after a standstill continues the motion before it."""


class IdleMeter:
    """`idle_fraction` and `idle_pause_s`: standstills of the command (of the TCP when there is none).

    Fed the play-filtered step (a trembling hand that holds still is still). Three standstills are part
    of the task, not idling; only their excess over an allowance counts:
    - the wait before the first move (`start_wait_s`: the operator getting ready);
    - the wait around a gripper change (`grasp_wait_s`: the fingers close and the operator checks the
      grasp): the gripper changes during it or it begins within `grip_grace_s` after a change;
    - a look between two movements: motion resumes in another direction (the next axis, the descent
      after the approach, a correction back). A person reacts to what they see and looks before
      descending (0.2-1.7 s), a scripted expert turns at a waypoint in 0.2-0.4 s: how long a look may
      be depends on the operator, so its length is reported (`look_s`, the longest) and judged by the
      scorer against the session's own looks (`scorer.LookReference`); `idle_fraction` allows each
      look `look_wait_s`. A pause that interrupts a movement, which then carries on the same way, is a
      hesitation and counts from its first frame.
    The command, not the TCP, is what shows an operator's pause: when a command freezes mid-motion the
    TCP coasts on for a few frames, so on the TCP a 1 s pause reads as ~0.7 s.
    """

    __slots__ = (
        "at_start",
        "dt",
        "grace",
        "grasp_allow",
        "grip",
        "heading",
        "idle",
        "look_allow",
        "look_max",
        "pairs",
        "run",
        "run_max",
        "since_grip",
        "speed",
        "start_allow",
    )

    def __init__(self, th: Mapping[str, float], dt: float) -> None:
        self.dt = dt
        self.speed = th["still_speed"]
        self.grace = round(th["grip_grace_s"] / dt)
        self.grasp_allow = round(th["grasp_wait_s"] / dt)
        self.start_allow = round(th["start_wait_s"] / dt)
        self.look_allow = round(th["look_wait_s"] / dt)
        self.since_grip = 1 << 30  # frames since the last gripper change
        self.at_start = True  # no motion yet
        self.grip = False  # the current standstill is a grasp wait
        self.heading: np.ndarray | None = None  # unit direction of the last moving step
        self.pairs = 0
        self.idle = 0
        self.run = 0
        self.run_max = 0
        self.look_max = 0  # frames of the longest look

    def add(self, step: np.ndarray | None, grip_changed: bool, first: bool) -> None:
        """The filtered step of this frame; `grip_changed`: the gripper command changed on this frame."""
        self.since_grip = 0 if grip_changed else self.since_grip + 1
        if first:
            return
        self.pairs += 1
        length = _norm(step) if step is not None else 0.0
        if step is not None and length / self.dt >= self.speed:
            direction = step / length
            turned = self.heading is not None and float(direction @ self.heading) < SAME_WAY_COS
            look = self.run > 0 and turned and not self.at_start and not self.grip
            excess = self._excess(look)
            self.idle += excess
            if look:
                self.look_max = max(self.look_max, self.run)
            else:
                self.run_max = max(self.run_max, excess)
            self.run = 0
            self.at_start = False
            self.heading = direction
            return
        if self.run == 0:
            self.grip = self.since_grip <= self.grace
        self.run += 1
        self.grip = self.grip or grip_changed

    def _excess(self, look: bool = False) -> int:
        """Frames of the current standstill beyond its allowance; `look`: motion resumed another way."""
        allow = (self.start_allow if self.at_start else 0) + (self.grasp_allow if self.grip else 0)
        return max(0, self.run - (self.look_allow if look else allow))

    def raw(self) -> dict[str, float]:
        excess = self._excess()  # the standstill still open at the end
        return {
            "idle_fraction": (self.idle + excess) / max(self.pairs, 1),
            "idle_pause_s": max(self.run_max, excess) * self.dt,
            "look_s": self.look_max * self.dt,
        }


CRAWL_BIN = 0.001
"""m/s: resolution of the crawl meter's speed histogram (its crawl limit is known only at the end)."""
CRUISE_BIN = 0.005
"""m/s: resolution of the histogram the cruise speed is read from."""
CRUISE_TOP = 1.0
"""m/s: steady speeds above this share the top bin of that histogram (a stall's catch-up, a spike)."""
STALL_STEP = 2.0
"""A step this many times the mean of the others in the crawl window, and than `crawl_speed` x dt,
is a stalled sim's catch-up row (several frames of motion in one)."""
CRUISE_QUANTILE = 0.9
"""The cruise is this quantile of the steady speeds, not their maximum: on a loaded machine a stalled sim
delivers a keyboard's command in rows of 15-90 mm instead of 10, and a maximum read those as a 0.2-0.3
m/s cruise that made the keyboard's steady 0.1 m/s a crawl."""


class CrawlMeter:
    """`crawl_fraction`: frames of steady motion (not a speed-up/slow-down ramp) slower than `crawl_speed`
    and than `crawl_ratio` x the episode's `cruise_speed`, the `CRUISE_QUANTILE` of its steady speeds.

    Crawling is slow for this operator: the expert cruises at 0.12-0.24 m/s, a keyboard at 0.1 m/s an
    axis, which a fixed 0.105 m/s would call crawling throughout. A slowed stretch of an episode is
    slower than the same episode's own cruise. The cruise is known only at the end, so the steady
    speeds are kept as fixed histograms (constant memory): below `crawl_speed` in `CRAWL_BIN` bins, all
    of them in `CRUISE_BIN` bins. The speed is the mean step over the last `crawl_window` frames (of
    the play-filtered command, or TCP): a hand's frame-to-frame noise would otherwise make a slow,
    steady move look unsteady; a step far longer than the others is left out, or a stalled sim's long
    row would make the window look fast.
    """

    __slots__ = ("dt", "frames", "prev_speed", "recent", "slow", "steady", "steady_sum", "th")

    def __init__(self, th: Mapping[str, float], dt: float) -> None:
        self.th = th
        self.dt = dt
        self.frames = 0
        self.prev_speed: float | None = None
        self.recent: deque[np.ndarray] = deque(maxlen=int(th["crawl_window"]) + 1)
        bins = math.ceil((th["crawl_speed"] - th["still_speed"]) / CRAWL_BIN)
        self.slow = [0] * max(bins, 0)  # steady frames per speed bin from still_speed up to crawl_speed
        self.steady = [0] * (math.ceil(CRUISE_TOP / CRUISE_BIN) + 1)  # steady frames per speed bin
        self.steady_sum = [0.0] * len(self.steady)  # and the sum of their speeds

    def add(self, point: np.ndarray | None) -> None:
        """The filtered command (the TCP when there is no command) of this frame."""
        self.frames += 1
        if point is None:
            return
        self.recent.append(point)
        if len(self.recent) < 2:
            return
        th = self.th
        # A stalled sim's row (several frames of a held key in one) would raise the speed of every
        # window it lies in: a step more than `STALL_STEP` x the others' mean and than a crawl's frame
        # is left out.
        steps = [_norm(b - a) for a, b in itertools.pairwise(self.recent)]
        if len(steps) > 2:
            longest = max(steps)
            rest = (sum(steps) - longest) / (len(steps) - 1)
            if longest > STALL_STEP * rest and longest > STALL_STEP * th["crawl_speed"] * self.dt:
                steps.remove(longest)
        speed = sum(steps) / (len(steps) * self.dt)
        # A lone short tap inside the window is not slow steady motion: every step must move.
        moving = min(steps) >= th["still_speed"] * self.dt
        prev, self.prev_speed = self.prev_speed, speed
        if prev is None:
            return
        if abs(speed - prev) < th["crawl_steady"] and speed >= th["still_speed"] and moving:
            b = min(int(speed / CRUISE_BIN), len(self.steady) - 1)
            self.steady[b] += 1
            self.steady_sum[b] += speed
            k = int((speed - th["still_speed"]) / CRAWL_BIN)
            if k < len(self.slow):
                self.slow[k] += 1

    @property
    def cruise(self) -> float:
        """The `CRUISE_QUANTILE` of the steady speeds (the mean speed in its bin; 0 without steady motion)."""
        total = sum(self.steady)
        if total == 0:
            return 0.0
        need = CRUISE_QUANTILE * total
        for k, count in enumerate(itertools.accumulate(self.steady)):
            if count >= need:
                return self.steady_sum[k] / self.steady[k]
        return CRUISE_TOP

    @property
    def crawl(self) -> int:
        """Steady frames whose speed bin lies below this episode's crawl limit (by the bin's centre)."""
        th = self.th
        limit = min(th["crawl_speed"], th["crawl_ratio"] * self.cruise)
        return sum(n for k, n in enumerate(self.slow) if th["still_speed"] + (k + 0.5) * CRAWL_BIN < limit)

    def raw(self) -> dict[str, float]:
        return {"crawl_fraction": self.crawl / max(self.frames - 1, 1), "cruise_speed": self.cruise}


class SpikeMeter:
    """`spike_accel`: peak TCP acceleration (m/s^2); `spike_force`: peak contact force (N), when carried.

    An acceleration is committed one frame late, so that a step found next frame to hold two frames
    of motion (dropped rows, see `integrity.JumpMeter`) is a gap, not a spike.
    """

    __slots__ = ("accel_peak", "dt", "force_peak", "force_seen", "pending", "prev_v")

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self.prev_v: np.ndarray | None = None
        self.pending = 0.0
        self.accel_peak = 0.0
        self.force_peak = 0.0
        self.force_seen = False

    def add(
        self, v: np.ndarray | None, contact_force: float | None, stale: bool = False, jumped: bool = False
    ) -> None:
        """TCP step `v`; `stale`: it does not span one frame of motion (a repeated state, the step out of
        a stall or over skipped frame numbers), so no acceleration is measured against or from it;
        `jumped`: the previous step held two frames of motion (its accelerations are dropped)."""
        accel = 0.0
        if stale or v is None:
            self.prev_v = None
        else:
            if self.prev_v is not None:
                accel = _norm(v - self.prev_v) / self.dt**2
            self.prev_v = v
        if jumped:
            self.pending = 0.0
        else:
            self.accel_peak = max(self.accel_peak, self.pending)
            self.pending = accel
        if contact_force is not None and math.isfinite(contact_force):
            self.force_seen = True
            self.force_peak = max(self.force_peak, float(contact_force))

    def raw(self) -> dict[str, float]:
        out = {"spike_accel": max(self.accel_peak, self.pending)}
        if self.force_seen:
            out["spike_force"] = self.force_peak
        return out


class SaturationMeter:
    """`saturation`: share of frames with the command at its limit or the TCP at a workspace bound."""

    __slots__ = ("box", "cmd_limit", "frames", "saturated")

    def __init__(self, layout: SignalLayout, margin: float) -> None:
        # Bounds as plain floats: x, y low and x, y, top high, each moved in by the margin (touching the
        # table is the task, not saturation).
        low, high = layout.workspace_low, layout.workspace_high
        self.box: tuple[float, ...] | None = None
        if low is not None and high is not None:
            self.box = (
                low[0] + margin,
                low[1] + margin,
                high[0] - margin,
                high[1] - margin,
                high[2] - margin,
            )
        limit = layout.action_xyz_limit
        self.cmd_limit = limit - 1e-3 if limit is not None else None
        self.frames = 0
        self.saturated = 0

    def add(self, p: np.ndarray | None, c: np.ndarray | None) -> None:
        self.frames += 1
        if self._saturated(p, c):
            self.saturated += 1

    def _saturated(self, p: np.ndarray | None, c: np.ndarray | None) -> bool:
        if c is not None and self.cmd_limit is not None and max(abs(x) for x in c.tolist()) >= self.cmd_limit:
            return True
        if p is not None and self.box is not None:
            x, y, z = p.tolist()
            lo_x, lo_y, hi_x, hi_y, hi_z = self.box
            return x <= lo_x or y <= lo_y or x >= hi_x or y >= hi_y or z >= hi_z
        return False

    def raw(self) -> dict[str, float]:
        return {"saturation": self.saturated / max(self.frames, 1)}


class GripEvent(enum.Enum):
    CLOSED = "closed"
    OPENED = "opened"


class GripperMeter:
    """`gripper_chatter`: total variation of the gripper command beyond the one stroke a pick needs.

    Also follows the closed/open state that the drop and path meters need: `add` says whether this
    frame closed or re-opened the gripper, `carrying` whether it has been closed for a few frames.
    """

    __slots__ = ("change", "close", "closed", "closed_frames", "open", "prev", "tv")

    def __init__(self, th: Mapping[str, float]) -> None:
        self.close = th["grip_close"]
        self.open = th["grip_open"]
        self.change = th["idle_grip"]
        self.prev: float | None = None
        self.tv = 0.0
        self.closed = False
        self.closed_frames = 0

    def changed(self, g: float | None) -> bool:
        """Whether `g` (not yet added) differs from the previous command by a real gripper change."""
        return g is not None and self.prev is not None and abs(g - self.prev) >= self.change

    @property
    def carrying(self) -> bool:
        """Closed for 3 frames or more: a grasp, not a chatter's flick."""
        return self.closed_frames >= 3

    def add(self, g: float) -> GripEvent | None:
        if self.prev is not None:
            self.tv += abs(g - self.prev)
        self.prev = g
        self.closed_frames = self.closed_frames + 1 if g >= self.close else 0
        if not self.closed and g >= self.close:
            self.closed = True
            return GripEvent.CLOSED
        if self.closed and g <= self.open:
            self.closed = False
            return GripEvent.OPENED
        return None

    def raw(self) -> dict[str, float]:
        return {"gripper_tv": self.tv, "gripper_chatter": max(0.0, self.tv - 1.0)}


class DropMeter:
    """`drop`: the cube's largest fall from its highest lifted point (privileged cube pose), or the TCP
    lift above the grasp height at which a closed gripper re-opened (works offline, without the cube)."""

    __slots__ = ("close_z", "cube_fall", "cube_max", "cube_z0", "min_lift", "release_lift")

    def __init__(self, th: Mapping[str, float]) -> None:
        self.min_lift = th["drop_min_lift"]
        self.close_z = 0.0
        self.release_lift = 0.0
        self.cube_z0: float | None = None
        self.cube_max = -math.inf
        self.cube_fall = 0.0

    def grasp(self, z: float) -> None:
        self.close_z = z

    def release(self, z: float) -> None:
        lift = z - self.close_z
        if lift >= self.min_lift:
            self.release_lift = max(self.release_lift, lift)

    def add_cube(self, cube_pose: np.ndarray | None) -> None:
        if cube_pose is None or len(cube_pose) < 3 or not math.isfinite(float(cube_pose[2])):
            return
        z = float(cube_pose[2])
        if self.cube_z0 is None:
            self.cube_z0 = z
        self.cube_max = max(self.cube_max, z)
        if self.cube_max - self.cube_z0 >= self.min_lift:
            self.cube_fall = max(self.cube_fall, self.cube_max - z)

    def raw(self) -> dict[str, float]:
        return {
            "drop_release_lift": self.release_lift,
            "drop_cube_fall": self.cube_fall,
            "drop": max(self.release_lift, self.cube_fall),
        }


class DetourMeter:
    """`detour`: the command's retraced distance, a new movement at every gripper change.

    `add_command` reads the raw command: a one-frame spike is the spike metric's, not an excursion, so
    it is despiked (median of 3, one frame late) and then tremor-filtered; the raw step that tells a
    turn from a stop and the gripper cut are delayed by the same frame.
    """

    __slots__ = ("despike", "points", "prev_grip_changed", "prev_raw_step", "retrace", "steady", "turn_step")

    def __init__(self, th: Mapping[str, float], dt: float) -> None:
        self.retrace = RetraceMeter(
            th["still_speed"] * dt, max(1, int(th["detour_turn_s"] / dt + 1e-9)), th["detour_overshoot"]
        )
        self.turn_step = th["turn_speed"] * dt
        self.points = 0
        self.despike = Median3()
        self.steady = PlayFilter(th["play"])
        self.prev_raw_step: np.ndarray | None = None
        self.prev_grip_changed = False

    def add_command(self, c: np.ndarray, raw_step: np.ndarray | None, grip_changed: bool) -> None:
        """The raw command `c` of this frame, reached by `raw_step`; `grip_changed` on this frame."""
        step = self.steady.add(self.despike.add(c))
        assert self.steady.y is not None
        self.add(self.steady.y, step, self.prev_raw_step, self.prev_grip_changed)
        self.prev_raw_step, self.prev_grip_changed = raw_step, grip_changed

    def add(
        self, c: np.ndarray, step: np.ndarray | None, raw_step: np.ndarray | None, grip_changed: bool
    ) -> None:
        """The filtered command `c`, reached by `step`; `raw_step`: the unfiltered command's step.

        Standing still takes both: the filtered command stands (the hand only trembles) and the raw
        one moves less than `turn_speed`. At the far end of an excursion the filters stand for a frame
        or two (they trail a reversal) while the raw command already moves back fast: a turn, not a stop.
        """
        self.points += 1
        if grip_changed:
            self.retrace.cut()  # the step that comes with a gripper change begins a new movement
        moving = None
        if step is not None and raw_step is not None:
            moving = _norm(step) > self.retrace.still or _norm(raw_step) > self.turn_step
        self.retrace.add(c, step, moving)

    def raw(self) -> dict[str, float]:
        return {"detour": self.retrace.value} if self.points else {}


def _leg(a: np.ndarray, b: np.ndarray) -> float:
    """Ideal horizontal length of one leg (start -> grasp, grasp -> end), axis by axis: a keyboard
    drives x and y one arrow at a time, and an L-shaped approach is as direct as a diagonal one."""
    return float(abs(b[0] - a[0]) + abs(b[1] - a[1]))


class PathMeter:
    """`path`: TCP path (sampled every `path_stride` frames) over the ideal path, see module docstring.

    Horizontal lengths are per axis (x plus y), so axis-by-axis motion is not a longer path; a reversal
    along one axis of at most `path_overshoot` (a key let go late, corrected back by a tap) adds nothing,
    and neither does vertical motion against the task's direction of at most that much (a descent that
    went a little too low and came back up). A wandering hand goes further than that.
    Also sums the every-frame TCP path (`travel`), which the camera meters compare images against.
    """

    __slots__ = (
        "axis_run",
        "axis_runs",
        "back_run",
        "backtrack",
        "corrected",
        "descending",
        "min_ideal",
        "p0",
        "p_grasp",
        "p_last",
        "path_h",
        "path_v",
        "sample",
        "stride",
        "tol",
        "travel",
        "undo",
        "z_top",
    )

    def __init__(self, th: Mapping[str, float]) -> None:
        self.stride = int(th["path_stride"])
        self.tol = th["backtrack_tol"]
        self.undo = th["path_overshoot"]
        self.min_ideal = th["path_min_ideal"]
        self.p0: np.ndarray | None = None
        self.p_last: np.ndarray | None = None
        self.p_grasp: np.ndarray | None = None
        self.sample: np.ndarray | None = None
        self.path_h = 0.0  # decimated path, horizontal (per axis) and vertical parts
        self.path_v = 0.0
        self.z_top = -math.inf  # highest sampled TCP z of the current approach
        self.descending = False
        self.backtrack = 0.0  # vertical motion against the task's direction (m), see `_step`
        self.back_run = 0.0  # the current run of it, not yet known to be more than a correction
        self.axis_run = [0.0, 0.0]  # signed length of the current run along x and along y
        self.axis_runs = [0, 0]  # runs seen along each axis
        self.corrected = 0.0  # horizontal path of overshoots corrected back (out and back)
        self.travel = Travel(0.0, 0.0, 0.0)  # every-frame path (for motion between camera frames)

    def add(self, p: np.ndarray, v: np.ndarray | None, index: int, carrying: bool) -> None:
        """TCP `p` of frame `index`, reached by step `v`; `carrying`: the gripper holds the cube."""
        if v is not None:
            t = self.travel
            dz = float(v[2])
            self.travel = Travel(
                t.path + _norm(v), t.lateral + math.hypot(float(v[0]), float(v[1])), t.down - min(dz, 0.0)
            )
        if self.sample is None:
            self.p0 = self.sample = p
        elif index % self.stride == 0:
            self._step(p - self.sample, carrying)
            self.sample = p
        self.p_last = p

    def grasp(self, p: np.ndarray) -> None:
        self.p_grasp = p  # the last close is the grasp that counts (chatter closes earlier)

    def release(self) -> None:
        self._settle_back()
        self.z_top, self.descending = -math.inf, False  # a new approach begins

    def _step(self, d: np.ndarray, carrying: bool) -> None:
        for axis in (0, 1):
            self._axis(axis, float(d[axis]))
        self.path_h += abs(float(d[0])) + abs(float(d[1]))
        self.path_v += abs(float(d[2]))
        dz = float(d[2])
        back = 0.0
        if carrying:  # the lift should only go up
            back = max(0.0, -dz)
        else:  # approaching: up to a safe height, then down; rising again after descending is a detour
            assert self.p_last is not None
            z = float(self.p_last[2]) + dz
            self.z_top = max(self.z_top, z)
            if self.z_top - z > self.tol:
                self.descending = True
            if self.descending:
                back = max(0.0, dz)
        if back > 0.0:
            self.back_run += back
        elif dz != 0.0:
            self._settle_back()

    def _axis(self, axis: int, dx: float) -> None:
        """Follow the runs along one horizontal axis: a run back of at most `path_overshoot` after an
        earlier one is an overshoot corrected, its path out and back excused."""
        run = self.axis_run[axis]
        if dx == 0.0:
            return
        if run == 0.0 or (run > 0.0) == (dx > 0.0):
            if run == 0.0:
                self.axis_runs[axis] += 1
            self.axis_run[axis] = run + dx
            return
        self.corrected += self._excused(axis)
        self.axis_run[axis] = dx
        self.axis_runs[axis] += 1

    def _excused(self, axis: int) -> float:
        run = abs(self.axis_run[axis])
        return 2.0 * run if self.axis_runs[axis] > 1 and run <= self.undo else 0.0

    def _settle_back(self) -> None:
        if self.back_run > self.undo:
            self.backtrack += self.back_run
        self.back_run = 0.0

    def raw(self) -> dict[str, float]:
        if self.p0 is None or self.p_last is None or self.sample is None:
            return {}
        d = self.p_last - self.sample
        corrected = self.corrected + self._excused(0) + self._excused(1)
        path_h = self.path_h + abs(float(d[0])) + abs(float(d[1])) - corrected
        path_v = self.path_v + abs(float(d[2]))
        backtrack = self.backtrack + (self.back_run if self.back_run > self.undo else 0.0)
        legs = [self.p0, self.p_grasp, self.p_last] if self.p_grasp is not None else [self.p0, self.p_last]
        ideal_h = sum(_leg(a, b) for a, b in itertools.pairwise(legs))
        needed_v = max(0.0, path_v - 2.0 * backtrack)
        ideal = max(ideal_h + needed_v, self.min_ideal)
        path_v = needed_v + 2.0 * backtrack
        return {
            "path_length_m": path_h + path_v,
            "path_h_excess": max(0.0, path_h - ideal_h) / ideal,
            "path_v_excess": 2.0 * backtrack / ideal,
            "path": max(0.0, (path_h + path_v) / ideal - 1.0),
        }


REPORT_ORDER = (
    "num_frames",
    "duration_s",
    "jitter_tcp",
    "jitter_cmd",
    "idle_fraction",
    "idle_pause_s",
    "crawl_fraction",
    "spike_accel",
    "saturation",
    "gripper_tv",
    "gripper_chatter",
    "drop_release_lift",
    "drop_cube_fall",
    "spike_force",
    "jitter",
    "drop",
    "detour",
)
"""The order reports and sidecars have always listed these metrics in; the others follow in meter order."""


class EpisodeAccumulator:
    """All raw metrics of one episode, fed one recorded frame at a time (O(1) per frame).

    One meter per metric family, each owning its state, its per-frame update and its raw values; this
    class reads the signals once per frame and hands each meter what it needs.
    """

    def __init__(self, config: QualityConfig) -> None:
        th = config.thresholds
        self.th = th
        self.dt = 1.0 / config.fps
        self.n = 0
        self.success = False
        self.signals = SignalReader(config.layout)
        self.steady_tcp = PlayFilter(th["play"])
        self.steady_cmd = PlayFilter(th["play"])
        self.jitter = JitterMeter(th)
        self.idle = IdleMeter(th, self.dt)
        self.crawl = CrawlMeter(th, self.dt)
        self.spike = SpikeMeter(self.dt)
        self.saturation = SaturationMeter(config.layout, th["sat_margin"])
        self.gripper = GripperMeter(th)
        self.drop = DropMeter(th)
        self.detour = DetourMeter(th, self.dt) if self.signals.axyz_idx is not None else None
        self.path = PathMeter(th)
        self.cams: dict[str, CameraMeter] = {}
        # The recording's own defects (`integrity`).
        has_cmd, has_tcp = self.signals.axyz_idx is not None, self.signals.tcp_idx is not None
        self.prev_c: np.ndarray | None = None
        self.cmd_spike = CommandSpikeMeter() if has_cmd else None
        self.freeze = FreezeMeter(self.dt)
        self.gaps = GapMeter()
        self.lag = LagMeter(th, self.dt) if has_cmd and has_tcp else None
        self.jumps = JumpMeter(th, self.dt) if has_cmd and has_tcp else None
        self.stale = False  # the previous frame's state was a stale repeat
        # Offline, a layout without a TCP: motion and action spikes in each dimension's range (`joints`).
        self.joint_travel: JointTravel | None = None
        self.action_spike: ActionSpikeMeter | None = None

    def measure_joints(self, state_scale: np.ndarray, action_scale: np.ndarray) -> None:
        """Before the first frame, offline, for a layout without an end-effector position: the episode's
        per-dimension state and action ranges, so images are judged against joint motion and actions
        for one-frame spikes (see `joints`)."""
        from sim_teleop.quality.joints import ActionSpikeMeter, JointTravel

        self.joint_travel = JointTravel(state_scale)
        self.action_spike = ActionSpikeMeter(action_scale)

    def meters(self) -> list[object]:
        """Every object that holds per-episode state (for the O(1)-memory check)."""
        meters: list[object] = [self.signals, self.steady_tcp, self.steady_cmd]
        meters += [self.jitter, self.jitter.tcp, self.jitter.cmd, self.idle]
        meters += [self.crawl, self.spike, self.saturation, self.gripper, self.drop, self.path]
        if self.detour is not None:
            meters += [self.detour, self.detour.retrace, self.detour.despike, self.detour.steady]
        meters += [self.freeze, self.gaps]
        meters += [m for m in (self.cmd_spike, self.lag, self.jumps) if m is not None]
        meters += [m for m in (self.joint_travel, self.action_spike) if m is not None]
        return meters + list(self.cams.values())

    # --- per frame --------------------------------------------------------------------------------
    def add_frame(
        self,
        state: np.ndarray,
        action: np.ndarray,
        success: bool = False,
        contact_force: float | None = None,
        cube_pose: np.ndarray | None = None,
        images: Mapping[str, np.ndarray] | None = None,
        frame: int | None = None,
    ) -> None:
        """Add one recorded frame. `images` may be given on every frame (live) or a subset (offline);
        `frame` is the frame number within the episode (defaults to the running count)."""
        index = self.n if frame is None else frame
        self.n += 1
        self.success = self.success or bool(success)
        p, c, g = self.signals.read(state, action)
        repeated = self.freeze.add(state, action)
        skipped = self.gaps.prev is not None and index > self.gaps.prev + 1
        self.gaps.add(index)
        stale, self.stale = repeated or skipped or self.stale, repeated
        raw_cmd_step = None if c is None or self.prev_c is None else c - self.prev_c
        self.prev_c = c
        # The hand's tremor filtered out (see `PlayFilter`): what the standstill tests look at.
        v_steady = self.steady_tcp.add(p) if p is not None else None
        c_steady = self.steady_cmd.add(c) if c is not None else None
        # Jitter turns of the command are judged without the tremor, which the arm filters anyway.
        v, _ = self.jitter.add(p, self.steady_cmd.y if c is not None else None)
        grip_changed = self.gripper.changed(g)
        if p is not None:
            self.path.add(p, v, index, self.gripper.carrying)  # before the gripper: it needs the last state
        if self.detour is not None and c is not None:
            self.detour.add_command(c, raw_cmd_step, grip_changed)
        if self.cmd_spike is not None:
            self.cmd_spike.add(raw_cmd_step)
        if self.lag is not None:
            self.lag.add(raw_cmd_step, None if stale else v)
        jumped = self.jumps is not None and self.jumps.add(
            None if repeated else v, raw_cmd_step, grip_changed
        )
        self.crawl.add(self.steady_cmd.y if c is not None else self.steady_tcp.y)
        if g is not None:
            self._gripper(g, p)
        self.idle.add(c_steady if c is not None else v_steady, grip_changed, first=self.n == 1)
        self.spike.add(v, contact_force, stale, jumped)
        self.saturation.add(p, c)
        self.drop.add_cube(cube_pose)
        travel = self.path.travel
        if self.joint_travel is not None:
            travel = self.joint_travel.add(state)
        if self.action_spike is not None:
            self.action_spike.add(action)
        for cam, img in (images or {}).items():
            meter = self.cams.get(cam)
            if meter is None:
                meter = self.cams[cam] = CameraMeter(cam, self._camera_thresholds())
            meter.add(img, index, travel)

    def _camera_thresholds(self) -> Mapping[str, float]:
        """The camera meters' thresholds; with joint travel (a fraction of the joints' ranges, not m) only
        images further apart are compared, `frozen_joint_far` of it apart."""
        if self.joint_travel is None:
            return self.th
        return {**self.th, "frozen_motion": math.inf, "frozen_far_motion": self.th["frozen_joint_far"]}

    def _gripper(self, g: float, p: np.ndarray | None) -> None:
        """A close is a grasp (drop height, path via point); a re-open ends the carry and the approach."""
        event = self.gripper.add(g)
        z = float(p[2]) if p is not None else 0.0
        if event is GripEvent.CLOSED:
            self.drop.grasp(z)
            if p is not None:
                self.path.grasp(p)
        elif event is GripEvent.OPENED:
            self.path.release()
            self.drop.release(z)

    # --- end of episode ---------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self.n * self.dt

    def raw_metrics(self) -> dict[str, float]:
        """Every raw metric of the episode so far (see module docstring)."""
        out: dict[str, float] = {"num_frames": float(self.n), "duration_s": self.duration_s}
        for meter in (
            self.jitter,
            self.idle,
            self.crawl,
            self.spike,
            self.saturation,
            self.gripper,
            self.drop,
        ):
            out.update(meter.raw())
        if self.detour is not None:
            out.update(self.detour.raw())
        out.update(self.path.raw())
        for integrity in (self.cmd_spike, self.freeze, self.gaps, self.jumps, self.lag):
            if integrity is not None:
                out.update(integrity.raw())
        if self.action_spike is not None:
            out.update(self.action_spike.raw())
        for cam, cam_meter in self.cams.items():
            for key, value in cam_meter.raw().items():
                out[f"{cam}.{key}"] = value
        known = [k for k in REPORT_ORDER if k in out]
        return {k: out[k] for k in (*known, *(k for k in out if k not in REPORT_ORDER))}
