"""Running per-episode metrics: O(1) work and memory per frame, the same code live and offline.

`EpisodeAccumulator.add_frame` is called once per recorded (phase `running`) frame; `raw_metrics` at the
end returns every raw value. Each signal is used in its own unit (TCP and commanded target in m, gripper
as 0..1, contact force in N, images as grey levels) - never one vector of mixed units.

Raw metrics (dt = 1 / fps; p = TCP position, c = commanded target, g = gripper command 0..1):

- jitter: turning fraction  sum w (1 - cos angle(v_t, v_t-1)) / (2 sum w + N floor^2), w = min(|v_t||v_t-1|,
  cap^2), on frame-to-frame motion v of p and of c (the larger of the two). 0 for straight motion, ~0.5
  for random steps, 1 for pure back-and-forth; one outlier moves it little (that is the spike metric).
- idle: a frame is idle when |dp|/dt < idle_speed, except within `grip_grace_s` after a gripper command
  change (waiting for the fingers); `idle_fraction` and `idle_pause_s` (longest idle run, s).
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
  frame pairs with TCP motion whose images are identical (frozen).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np

from sim_teleop.quality.calibration import BRIGHTNESS_REF
from sim_teleop.quality.config import QualityConfig
from sim_teleop.quality.visual import frame_difference, grey, image_stats


def _leg(a: np.ndarray, b: np.ndarray) -> float:
    """Ideal horizontal length of one leg (start -> grasp, grasp -> end)."""
    d = b - a
    return float(math.hypot(d[0], d[1]))


def _norm(v: np.ndarray) -> float:
    """Length of a short vector (np.linalg.norm's generality costs more than the metric on 3 values)."""
    return math.sqrt(float(v @ v))


def _clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


class TurningMeter:
    """Turning fraction of a 3-D trajectory (see module docstring), O(1) per point.

    Each pair of consecutive steps adds w (1 - cos angle) to the numerator and 2 w to the denominator,
    with w = min(|v_t| |v_t-1|, cap^2): fast steps do not outweigh slow ones beyond `cap`, so the value is
    close to the share of moving frames that turn, and one huge outlier step counts like any other pair.
    """

    __slots__ = ("cap2", "count", "den", "floor2", "jump", "num", "prev_p", "prev_v", "prev_vn")

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
                self.num += w * (1.0 - float(v @ self.prev_v) / mag)
                self.den += 2.0 * w
            self.count += 1
        self.prev_p, self.prev_v, self.prev_vn = p, v, vn
        return v

    @property
    def value(self) -> float:
        return self.num / (self.den + self.count * self.floor2) if self.count else 0.0


class RetraceMeter:
    """Distance gone out and back within continuous motion (`detour` in the module docstring), O(1) a point.

    Per movement it keeps the start, the latest point and the per-axis distance travelled; a movement
    ends after more than `join` consecutive still steps (a turn through zero velocity lasts one sample)
    or at `cut()`.
    """

    __slots__ = ("done", "end", "join", "moving", "start", "still", "still_run", "travel")

    def __init__(self, still: float, join: int) -> None:
        self.still = still  # a step at most this long (m) is standing still
        self.join = join
        self.done = 0.0
        self.start: np.ndarray | None = None
        self.end: np.ndarray | None = None
        self.travel = np.zeros(3)
        self.moving = False
        self.still_run = 0

    def add(self, c: np.ndarray, step: np.ndarray | None) -> None:
        """Point `c`, reached by `step` from the previous point (None for the first point)."""
        if step is None:
            return
        if _norm(step) > self.still:
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
        return max(0.0, 0.5 * float(self.travel.sum() - np.abs(self.end - self.start).sum()))

    @property
    def value(self) -> float:
        return self.done + self._open()


class CameraMeter:
    """Darkness, over-exposure, blur and frozen-frame statistics of one camera, O(1) per image."""

    __slots__ = (
        "blur_sum",
        "dark_sum",
        "frozen",
        "moving_pairs",
        "n",
        "over_sum",
        "prev",
        "prev_frame",
        "prev_path",
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
        self.prev_path = 0.0

    def add(self, image: np.ndarray, frame: int, path_so_far: float) -> None:
        """One image of frame number `frame`; `path_so_far` = TCP path length (m) up to this frame."""
        th = self.th
        g = grey(image)
        st = image_stats(g)
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
        prev = self.prev
        if (
            prev is not None
            and frame == self.prev_frame + 1
            and path_so_far - self.prev_path > th["frozen_motion"]
        ):
            self.moving_pairs += 1  # the robot moved between two consecutive images: they must differ
            if frame_difference(g, prev) < th["frozen_diff"]:
                self.frozen += 1
        self.prev, self.prev_frame, self.prev_path = g, frame, path_so_far

    def raw(self) -> dict[str, float]:
        if self.n == 0:
            return {}
        return {
            "dark": self.dark_sum / self.n,
            "overexposed": self.over_sum / self.n,
            "blur": self.blur_sum / self.n,
            "frozen": self.frozen / self.moving_pairs if self.moving_pairs else 0.0,
            "images": float(self.n),
        }


class EpisodeAccumulator:
    """All raw metrics of one episode, fed one recorded frame at a time (O(1) per frame)."""

    def __init__(self, config: QualityConfig) -> None:
        self.cfg = config
        lay = config.layout
        th = config.thresholds
        self.th = th
        self.dt = 1.0 / config.fps
        self.tcp_idx = list(lay.tcp) if lay.tcp is not None else None
        self.axyz_idx = list(lay.action_xyz) if lay.action_xyz is not None else None
        self.n = 0
        self.success = False
        self.tcp_turn = TurningMeter(th["turn_floor"], th["turn_cap"], th["turn_jump"])
        self.cmd_turn = TurningMeter(th["turn_floor"], th["turn_cap"], th["turn_jump"])
        self.retrace = RetraceMeter(
            th["detour_still_speed"] * self.dt, max(1, int(th["detour_turn_s"] / self.dt + 1e-9))
        )
        self.idle = 0
        self.idle_run = 0
        self.idle_run_max = 0
        self.accel_peak = 0.0
        self.force_peak = 0.0
        self.force_seen = False
        self.saturated = 0
        self.prev_v: np.ndarray | None = None
        self.prev_g: float | None = None
        self.grip_tv = 0.0
        self.closed = False
        self.closed_frames = 0
        self.close_z = 0.0
        self.release_lift = 0.0
        self.cube_z0: float | None = None
        self.cube_max = -math.inf
        self.cube_fall = 0.0
        self.p0: np.ndarray | None = None
        self.p_last: np.ndarray | None = None
        self.p_grasp: np.ndarray | None = None
        self.path_sample: np.ndarray | None = None
        self.path_h = 0.0  # decimated path (for path efficiency), horizontal and vertical parts
        self.path_v = 0.0
        self.z_top = -math.inf  # highest sampled TCP z of the current approach
        self.descending = False
        self.backtrack = 0.0  # vertical motion against the task's direction (m), see `_path_step`
        self.grace = 0
        self.crawl = 0
        self.prev_speed: float | None = None
        self.path_full = 0.0  # every-frame path (for motion between camera frames)
        self.cams: dict[str, CameraMeter] = {}
        # Saturation bounds as plain floats: x, y low and x, y, top high, each moved in by the margin.
        margin = th["sat_margin"]
        low, high = lay.workspace_low, lay.workspace_high
        self.sat_box: tuple[float, ...] | None = None
        if low is not None and high is not None:
            self.sat_box = (
                low[0] + margin,
                low[1] + margin,
                high[0] - margin,
                high[1] - margin,
                high[2] - margin,
            )
        limit = lay.action_xyz_limit
        self.sat_cmd = limit - 1e-3 if limit is not None else None

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
        _lay, th = self.cfg.layout, self.th
        index = self.n if frame is None else frame
        self.n += 1
        self.success = self.success or bool(success)
        state = np.asarray(state, dtype=np.float64)
        action = np.asarray(action, dtype=np.float64)

        p = state[self.tcp_idx] if self.tcp_idx is not None else None
        c = action[self.axyz_idx] if self.axyz_idx is not None else None
        g = self._gripper(state, action)

        tcp_moving = False
        if p is not None:
            v = self.tcp_turn.add(p)
            if self.p0 is None:
                self.p0 = p
                self.path_sample = p
            if v is not None:
                step = _norm(v)
                self.path_full += step
                tcp_moving = step / self.dt >= th["idle_speed"]
                if c is None:
                    self._crawl(step / self.dt)
                if self.prev_v is not None:
                    self.accel_peak = max(self.accel_peak, _norm(v - self.prev_v) / self.dt**2)
                self.prev_v = v
            if self.n > 1 and (index % int(th["path_stride"]) == 0):
                assert self.path_sample is not None
                self._path_step(p - self.path_sample)
                self.path_sample = p
            self.p_last = p
        if c is not None:
            cmd_step = self.cmd_turn.add(c)
            if g is not None and self.prev_g is not None and abs(g - self.prev_g) >= th["idle_grip"]:
                self.retrace.cut()  # the step that comes with a gripper change begins a new movement
            self.retrace.add(c, cmd_step)
            if cmd_step is not None:
                self._crawl(_norm(cmd_step) / self.dt)
        if g is not None:
            if self.prev_g is not None:
                dg = abs(g - self.prev_g)
                self.grip_tv += dg
                if dg >= th["idle_grip"]:
                    # Closing or opening takes time: waiting for the fingers is not idling.
                    self.grace = round(th["grip_grace_s"] / self.dt)
            self.prev_g = g
            self._gripper_events(g, p)
        if self.n > 1:
            if tcp_moving or self.grace > 0:
                self.idle_run = 0
            else:
                self.idle += 1
                self.idle_run += 1
                self.idle_run_max = max(self.idle_run_max, self.idle_run)
            self.grace = max(0, self.grace - 1)

        if contact_force is not None and math.isfinite(contact_force):
            self.force_seen = True
            self.force_peak = max(self.force_peak, float(contact_force))
        if self._saturated(p, c):
            self.saturated += 1
        if cube_pose is not None and len(cube_pose) >= 3 and math.isfinite(float(cube_pose[2])):
            z = float(cube_pose[2])
            if self.cube_z0 is None:
                self.cube_z0 = z
            self.cube_max = max(self.cube_max, z)
            if self.cube_max - self.cube_z0 >= th["drop_min_lift"]:
                self.cube_fall = max(self.cube_fall, self.cube_max - z)
        if images:
            for cam, img in images.items():
                meter = self.cams.get(cam)
                if meter is None:
                    meter = self.cams[cam] = CameraMeter(cam, th)
                meter.add(img, index, self.path_full)

    def _crawl(self, speed: float) -> None:
        """Count frames of steady motion slower than `crawl_speed` (not a speed-up or slow-down ramp)."""
        th = self.th
        prev, self.prev_speed = self.prev_speed, speed
        if prev is None:
            return
        if th["idle_speed"] <= speed < th["crawl_speed"] and abs(speed - prev) < th["crawl_steady"]:
            self.crawl += 1

    def _path_step(self, d: np.ndarray) -> None:
        self.path_h += float(math.hypot(d[0], d[1]))
        self.path_v += abs(float(d[2]))
        dz = float(d[2])
        if self.closed_frames >= 3:  # carrying (not a chatter's flick): the lift should only go up
            if dz < 0.0:
                self.backtrack += -dz
        else:  # approaching: up to a safe height, then down; rising again after descending is a detour
            assert self.p_last is not None
            z = float(self.p_last[2]) + dz
            self.z_top = max(self.z_top, z)
            if self.z_top - z > self.th["backtrack_tol"]:
                self.descending = True
            if self.descending and dz > 0.0:
                self.backtrack += dz

    def _gripper(self, state: np.ndarray, action: np.ndarray) -> float | None:
        lay = self.cfg.layout
        if lay.action_gripper is not None:
            return _clip01(float(action[lay.action_gripper]) / lay.action_gripper_max)
        if lay.state_gripper is not None:
            return _clip01(float(state[lay.state_gripper]) / lay.state_gripper_max)
        return None

    def _gripper_events(self, g: float, p: np.ndarray | None) -> None:
        th = self.th
        self.closed_frames = self.closed_frames + 1 if g >= th["grip_close"] else 0
        z = float(p[2]) if p is not None else 0.0
        if not self.closed and g >= th["grip_close"]:
            self.closed = True
            self.close_z = z
            if p is not None:
                self.p_grasp = p  # the last close is the grasp that counts (chatter closes earlier)
        elif self.closed and g <= th["grip_open"]:
            self.closed = False
            self.z_top, self.descending = -math.inf, False  # a new approach begins
            lift = z - self.close_z
            if lift >= th["drop_min_lift"]:
                self.release_lift = max(self.release_lift, lift)

    def _saturated(self, p: np.ndarray | None, c: np.ndarray | None) -> bool:
        if c is not None and self.sat_cmd is not None and max(abs(x) for x in c.tolist()) >= self.sat_cmd:
            return True
        if p is not None and self.sat_box is not None:
            x, y, z = p.tolist()
            lo_x, lo_y, hi_x, hi_y, hi_z = self.sat_box
            return x <= lo_x or y <= lo_y or x >= hi_x or y >= hi_y or z >= hi_z
        return False

    # --- end of episode ---------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self.n * self.dt

    def raw_metrics(self) -> dict[str, float]:
        """Every raw metric of the episode so far (see module docstring)."""
        n = max(self.n, 1)
        pairs = max(self.n - 1, 1)
        out: dict[str, float] = {
            "num_frames": float(self.n),
            "duration_s": self.duration_s,
            "jitter_tcp": self.tcp_turn.value,
            "jitter_cmd": self.cmd_turn.value,
            "idle_fraction": self.idle / pairs,
            "idle_pause_s": self.idle_run_max * self.dt,
            "crawl_fraction": self.crawl / pairs,
            "spike_accel": self.accel_peak,
            "saturation": self.saturated / n,
            "gripper_tv": self.grip_tv,
            "gripper_chatter": max(0.0, self.grip_tv - 1.0),
            "drop_release_lift": self.release_lift,
            "drop_cube_fall": self.cube_fall,
        }
        if self.force_seen:
            out["spike_force"] = self.force_peak
        out["jitter"] = max(out["jitter_tcp"], out["jitter_cmd"])
        out["drop"] = max(self.release_lift, self.cube_fall)
        if self.axyz_idx is not None and self.n > 0:
            out["detour"] = self.retrace.value
        if self.p0 is not None and self.p_last is not None:
            assert self.path_sample is not None
            d = self.p_last - self.path_sample
            path_h = self.path_h + float(math.hypot(d[0], d[1]))
            path_v = self.path_v + abs(float(d[2]))
            legs = (
                [self.p0, self.p_grasp, self.p_last] if self.p_grasp is not None else [self.p0, self.p_last]
            )
            ideal_h = sum(_leg(a, b) for a, b in itertools.pairwise(legs))
            needed_v = max(0.0, path_v - 2.0 * self.backtrack)
            ideal = max(ideal_h + needed_v, self.th["path_min_ideal"])
            path_v = needed_v + 2.0 * self.backtrack
            out["path_length_m"] = path_h + path_v
            out["path_h_excess"] = max(0.0, path_h - ideal_h) / ideal
            out["path_v_excess"] = 2.0 * self.backtrack / ideal
            out["path"] = max(0.0, (path_h + path_v) / ideal - 1.0)
        for cam, meter in self.cams.items():
            for key, value in meter.raw().items():
                out[f"{cam}.{key}"] = value
        return out
