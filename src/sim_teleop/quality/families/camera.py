"""Per camera: mean per-frame darkness, over-exposure and blur degrees (0..1); the fraction of image pairs
with TCP motion between them whose images are identical (`frozen`: consecutive frames, or sampled
keyframes further apart offline, where a camera stuck from mid-episode shows); and for a camera with a
calibrated cell range (`calibration.CELL_RANGE`), `partial_view`: the mean per-frame degree of a defect
over part of the view (smudge, occlusion, glare), from how many cells of a 4x4 grid left their clean
brightness range. Each is a family of its own, with a sub-score per camera (`front.dark`)."""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.images import grey
from sim_teleop.quality import needs
from sim_teleop.quality.calibration import BRIGHTNESS_REF, CELL_RANGE
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source
from sim_teleop.quality.shared import Travel
from sim_teleop.quality.shared import clip01 as _clip01
from sim_teleop.quality.visual import (
    CellRange,
    Gradients,
    abs_gradients,
    frame_difference,
    image_stats,
    partial_cells,
)

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup

DARK = Family(
    name="dark",
    kind=Kind.CAMERA,
    sources=(Source("dark", 0.15),),  # mean per-frame darkness degree (0..1)
    weight=0.5,
    raw_keys=("dark",),
    thresholds={
        "dark_rel_hi": 0.7,  # brightness / camera reference below this starts to count as dark ...
        "dark_rel_lo": 0.3,  # ... and below this is fully dark
    },
)
OVEREXPOSED = Family(
    name="overexposed",
    kind=Kind.CAMERA,
    sources=(Source("overexposed", 0.15),),  # mean per-frame over-exposure degree (0..1)
    weight=0.5,
    raw_keys=("overexposed",),
    thresholds={
        "over_clip_lo": 0.15,  # fraction of clipped-white pixels that starts to count as over-exposed ...
        "over_clip_hi": 0.5,  # ... and fully over-exposed
        "over_rel_hi": 1.5,  # brightness / camera reference above this starts to count as over-exposed ...
        "over_rel_full": 2.5,  # ... and fully
    },
)
BLUR = Family(
    name="blur",
    kind=Kind.CAMERA,
    sources=(Source("blur", 0.15),),  # mean per-frame blur degree (0..1)
    weight=0.5,
    raw_keys=("blur",),
    # sharpness ratio below this starts to count as blurred (clean renders: 1.45-1.7)
    thresholds={"blur_ref": 1.35},
)
FROZEN = Family(
    name="frozen",
    kind=Kind.CAMERA,
    sources=(Source("frozen", 0.10),),  # fraction of moving frames whose image did not change
    weight=0.5,
    raw_keys=("frozen",),
    needs=needs.tcp_or_joints,  # motion between two images: the TCP's, or the joints'
    thresholds={
        # grey levels: a frozen camera repeats the same buffer (0); a working wrist camera sliding 1 cm a
        # frame over plain floor changes by only 0.002-0.006 (rendered, measured), which 0.005 called frozen
        "frozen_diff": 0.001,
        "frozen_motion": 0.006,  # m of TCP motion between two frames that must show up in the image
        # m of view motion between two images further apart (live: rendered images change with any 6 mm;
        # offline `offline.OFFLINE_FAR_MOTION`) ...
        "frozen_far_motion": 0.012,
        # ... that differ less (grey levels): live the same buffer (0); offline (`offline.OFFLINE_FAR_DIFF`)
        # one stuck image decodes 0-0.9 apart
        "frozen_far_diff": 0.001,
        # joint travel (fraction of the joints' ranges) between images that must differ
        "frozen_joint_far": 0.1,
        "frozen_far_texture": 0.0,  # mean |gradient| an earlier image needs to be compared (offline: 1.3)
        # A gripper camera's view motion = sideways + this x downward path: clean wrist pairs with 5 cm of
        # it differ by >= 1.13 grey levels (221k keyframe pairs of 593 recorded episodes); lifting does not
        "frozen_down_weight": 4.0,
    },
)
PARTIAL_VIEW = Family(
    name="partial_view",
    kind=Kind.CAMERA,
    sources=(Source("partial_view", 0.15),),  # mean per-frame partial-view degree (0..1)
    weight=0.5,
    raw_keys=("partial_view",),
    thresholds={
        "partial_tol": 1.3,  # factor beyond a cell's clean brightness range at which the cell is off ...
        "partial_lo": 2.0,  # ... cells off that are still nothing (the cube filling wrist cells) ...
        "partial_full": 4.0,  # ... and that are a fully defective frame (a quarter of the 4x4 grid) ...
        "partial_max": 8.0,  # ... and beyond which the whole frame changed (exposure), not part of it
    },
)

FROZEN_HISTORY = 16
"""Earlier images a camera meter keeps to compare an image with when its consecutive pair says nothing
(offline at the default keyframe stride: about 8 keyframes and the frame after each, >= 32 frames back;
every frame: 16 frames back, 5 cm of view motion at 3 mm a frame)."""

LEARNT_BLUR_SHARE = 0.85
"""On a learnt reference (`CameraLevels`), sharpness below this share of the camera's usual starts to count
as blur: this project's calibrated 1.35 is 0.8-0.93 of its clean renders' 1.45-1.7."""


@dataclass(frozen=True, slots=True)
class CameraLevels:
    """A camera's usual mean luma and sharpness ratio: what its dark, over-exposed and blur degrees are
    relative to when a dataset of another layout teaches them (`quality.scorer.CameraReference`)."""

    brightness: float
    sharpness: float


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
        "seen",
        "th",
    )

    def __init__(self, camera: str, thresholds: Mapping[str, float], learn: bool = False) -> None:
        self.th = thresholds
        self.ref = BRIGHTNESS_REF.get(camera, BRIGHTNESS_REF["*"])
        # Learning the levels (another layout, offline): each image's (brightness, clipped, sharpness),
        # judged at the end against levels that may include this episode's own.
        self.seen: list[tuple[float, float, float]] | None = [] if learn else None
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
        self.history: deque[tuple[Travel, int, np.ndarray, float]] = deque(maxlen=FROZEN_HISTORY)
        self.on_gripper = any(word in camera.lower() for word in ON_GRIPPER)
        rng = CELL_RANGE.get(camera)
        self.cell_range = CellRange(np.asarray(rng, dtype=np.float32)) if rng is not None else None
        self.partial_sum = 0.0

    def add(self, image: np.ndarray, frame: int, travel: Travel, carrying: bool = False) -> None:
        """One image of frame number `frame`; `travel`: how far the TCP went up to this frame;
        `carrying`: the gripper holds the cube (a camera on the gripper then sees mostly the cube)."""
        th = self.th
        g = grey(image)
        grads = abs_gradients(g)
        st = image_stats(g, grads)
        dark, over, blur = self._degrees(st.brightness, st.clipped, st.sharpness, self.ref, th["blur_ref"])
        if self.seen is not None:
            self.seen.append((st.brightness, st.clipped, st.sharpness))
        self.n += 1
        self.dark_sum += dark
        self.over_sum += over
        self.blur_sum += blur
        if self.cell_range is not None:
            self.partial_sum += self._partial(g, grads)
        self._frozen(g, frame, travel, st.texture, carrying)

    def _degrees(
        self, brightness: float, clipped: float, sharpness: float, ref: float, blur_ref: float
    ) -> tuple[float, float, float]:
        """Darkness, over-exposure and blur of one image, against a usual brightness and sharpness."""
        th = self.th
        rel = brightness / ref
        dark = _clip01((th["dark_rel_hi"] - rel) / (th["dark_rel_hi"] - th["dark_rel_lo"]))
        over = max(
            _clip01((clipped - th["over_clip_lo"]) / (th["over_clip_hi"] - th["over_clip_lo"])),
            _clip01((rel - th["over_rel_hi"]) / (th["over_rel_full"] - th["over_rel_hi"])),
        )
        # A frame that is mostly black or white has no edges left to judge sharpness by.
        blur = 0.0 if max(dark, over) > 0.5 else _clip01(1.0 - sharpness / blur_ref)
        return dark, over, blur

    def levels(self) -> CameraLevels | None:
        """This episode's usual brightness and sharpness (median image), when they are learnt."""
        if not self.seen:
            return None
        return CameraLevels(
            brightness=float(statistics.median(b for b, _, _ in self.seen)),
            sharpness=float(statistics.median(s for _, _, s in self.seen)),
        )

    def judge_by(self, levels: CameraLevels) -> None:
        """Recompute the dark, over-exposed and blur sums against learnt `levels`."""
        if not self.seen:
            return
        blur_ref = LEARNT_BLUR_SHARE * levels.sharpness
        ref = max(levels.brightness, 1.0)  # a black camera's usual luma must not divide by zero
        sums = [0.0, 0.0, 0.0]
        for b, c, s in self.seen:
            for k, degree in enumerate(self._degrees(b, c, s, ref, blur_ref)):
                sums[k] += degree
        self.dark_sum, self.over_sum, self.blur_sum = sums

    def _frozen(self, g: np.ndarray, frame: int, travel: Travel, texture: float, carrying: bool) -> None:
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
        elif not (carrying and self.on_gripper):  # the cube in hand fills a gripper camera's view
            need, down = th["frozen_far_motion"], th["frozen_down_weight"]
            ref, tex = next(
                (
                    (r, x)
                    for t, f, r, x in reversed(self.history)
                    if frame - f > 1 and travel.view_since(t, self.on_gripper, down) > need
                ),
                (None, 0.0),
            )
            if ref is not None and tex >= th["frozen_far_texture"]:
                self.moving_pairs += 1
                if frame_difference(g, ref) < th["frozen_far_diff"]:
                    self.frozen += 1
        self.prev, self.prev_frame, self.prev_travel = g, frame, travel.path
        self.history.append((travel, frame, g, texture))

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


@FAMILIES.register(DARK, OVEREXPOSED, BLUR, FROZEN, PARTIAL_VIEW)
class CamerasMeter:
    """One `CameraMeter` per camera, made when its first image arrives; raw metrics as `camera.metric`."""

    __slots__ = ("cams", "judged_by", "learn", "th")

    ORDER = 170  # last: it compares images against the travel the path (or joint) meter left

    def __init__(self, th: Mapping[str, float], learn: bool = False) -> None:
        self.th = th
        self.learn = learn
        self.cams: dict[str, CameraMeter] = {}
        self.judged_by: dict[str, CameraLevels] = {}  # learnt levels, set before `raw`

    @classmethod
    def build(cls, setup: MeterSetup) -> CamerasMeter:
        """With joint travel (a fraction of the joints' ranges, not m) only images further apart are
        compared, `frozen_joint_far` of it apart."""
        th = setup.th
        if setup.joints:
            th = {**th, "frozen_motion": math.inf, "frozen_far_motion": th["frozen_joint_far"]}
        return cls(th, setup.learn_cameras)

    def update(self, f: FrameFacts) -> None:
        for cam, img in (f.images or {}).items():
            meter = self.cams.get(cam)
            if meter is None:
                meter = self.cams[cam] = CameraMeter(cam, self.th, self.learn)
            meter.add(img, f.index, f.travel, f.carrying)

    def levels(self) -> dict[str, CameraLevels]:
        """Each learning camera's levels in this episode."""
        return {cam: lv for cam, m in self.cams.items() if (lv := m.levels()) is not None}

    def raw(self) -> dict[str, float]:
        for cam, levels in self.judged_by.items():
            if cam in self.cams:
                self.cams[cam].judge_by(levels)
        return {
            f"{cam}.{key}": value for cam, meter in self.cams.items() for key, value in meter.raw().items()
        }
