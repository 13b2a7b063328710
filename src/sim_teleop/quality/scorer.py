"""From raw metrics to a `QualityReport`, and the live per-attempt state machine of the scorer node.

Sub-score of a raw value x with calibrated bad boundary `half`:  s = 2 ** -((x / half) ** power)
(1 at x = 0, 0.5 at the boundary, near 0 beyond twice it; strictly decreasing, so rankings keep every
difference). The aggregate is the weighted geometric mean  exp(sum w_i ln s_i / sum w_i)  of the
sub-scores that could be computed, so one failing metric pulls the whole score down; task success is a
gate, not a term: a failed episode's aggregate is multiplied by `failure_factor` and it is always `bad`
(a dataset without a success column has no gate). Metrics whose signal the layout lacks are left out.
Verdict `bad` when the episode failed, any sub-score is below `subscore_bad` (each such metric becomes a
reason code), or the aggregate is below `threshold`.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping

from sim_teleop.follower import Ended, EpisodeFollower, Started, Step
from sim_teleop.messages import EndReason, Frame, QualityReport, Verdict
from sim_teleop.quality import calibration as cal
from sim_teleop.quality.config import QualityConfig
from sim_teleop.quality.families import FAMILIES, crawl, idle
from sim_teleop.quality.families.camera import CameraLevels
from sim_teleop.quality.families.gap import GAP
from sim_teleop.quality.family import Kind
from sim_teleop.quality.layout import missing_metrics
from sim_teleop.quality.metrics import EpisodeAccumulator

VISUAL = FAMILIES.names(Kind.CAMERA)
MOTION = FAMILIES.names(Kind.MOTION)
INTEGRITY = FAMILIES.names(Kind.INTEGRITY)


def subscore(x: float, half: float, power: float) -> float:
    """Map a raw badness value (>= 0) to [0, 1]; 0.5 at `half`."""
    if not math.isfinite(x):
        return 0.0
    return float(2.0 ** -((max(x, 0.0) / half) ** power))


class RunningReference:
    """Reference episode duration, the operator's own pace: the median of the session's recent successful
    episodes that were good but for their pace, a prior wide enough for people (one vote) and the
    episode being judged (one vote).

    The prior is a range, not the expert's duration: it votes for the judged duration clamped to the
    expert's `prior_s` .. `spread` x that (`calibration.PERSON_PACE`), so a person's pace at the keyboard
    agrees with it. The judged episode's own vote means a first episode is never slow for lack of a
    reference; until the session has a few good episodes, a person's slower ones are not judged by the
    expert's pace; after that the session's own pace decides. The price: in the first three or so
    episodes of a session, one up to `spread` x the prior is not `slow` for a scripted expert either.
    Without the episode (`value`): the reference so far (the prior counts as the expert's duration)."""

    def __init__(self, prior_s: float, window: int, spread: float = cal.PERSON_PACE) -> None:
        self.prior_s = prior_s  # <= 0: no prior (a task of unknown pace: the session's alone)
        self.spread = spread
        self.recent: deque[float] = deque(maxlen=max(1, window))

    @property
    def value(self) -> float:
        votes = [*([self.prior_s] if self.prior_s > 0 else []), *self.recent]
        return float(statistics.median(votes)) if votes else math.inf  # nothing to judge pace by yet

    def judging(self, duration_s: float) -> float:
        """The reference a successful episode of `duration_s` is judged against."""
        votes = [*self.recent, duration_s]
        if self.prior_s > 0:
            votes.append(min(max(duration_s, self.prior_s), self.spread * self.prior_s))
        return float(statistics.median(votes))

    def update(self, duration_s: float) -> None:
        self.recent.append(duration_s)


class LookReference:
    """How long this operator's looks between two movements usually are: the median of the longest look
    of recent episodes that were good (but for their pace), with a person's look as one more vote, plus
    their robust spread (1.4826 x the median absolute deviation), and never under `LOOK_FLOOR_S`. A
    person looks ~1.5 s before descending, some episodes 0.3 s and some 1.4 s: judged against their
    median alone, a fifth of a varied typist's clean episodes were `idle`. A scripted expert turns at a
    waypoint in 0.2-0.4 s every time (no spread), so for it a 1.2 s standstill is a hesitation."""

    def __init__(self, prior_s: float, floor_s: float, window: int) -> None:
        self.prior_s = prior_s
        self.floor_s = floor_s
        self.recent: deque[float] = deque(maxlen=max(1, window))

    @property
    def value(self) -> float:
        votes = [self.prior_s, *self.recent]
        middle = statistics.median(votes)
        spread = 1.4826 * statistics.median(abs(v - middle) for v in votes)
        return max(self.floor_s, float(middle + spread))

    def update(self, look_s: float) -> None:
        self.recent.append(look_s)

    def usual(self, own_look_s: float) -> float:
        """The operator's usual look from what they did, without the prior: the median of the session's
        looks and the judged episode's own (a first episode is judged by its own look)."""
        return float(statistics.median([*self.recent, own_look_s]))


class CameraReference:
    """Each camera's usual brightness and sharpness, learnt from the session when a dataset of another
    layout has no calibrated render to compare with: the median of recent episodes whose images were
    good, with the judged episode's own levels as one more vote. A dim or smooth scene is then that
    dataset's normal (not `dark`, not `blur`); a camera dark or blurred where the session's earlier
    episodes were not is found. The first episode is judged against itself alone: a camera dark or
    blurred through all of it is only seen once later episodes show what the camera usually gives."""

    def __init__(self, window: int) -> None:
        self.window = max(1, window)
        self.recent: dict[str, deque[CameraLevels]] = {}

    def judging(self, own: Mapping[str, CameraLevels]) -> dict[str, CameraLevels]:
        out = {}
        for cam, levels in own.items():
            votes = [*self.recent.get(cam, ()), levels]
            out[cam] = CameraLevels(
                brightness=float(statistics.median(v.brightness for v in votes)),
                sharpness=float(statistics.median(v.sharpness for v in votes)),
            )
        return out

    def learn(self, own: Mapping[str, CameraLevels], subscores: Mapping[str, float], bad: float) -> None:
        """Each camera whose images were good (no sub-score `cam.*` below `bad`) teaches its levels."""
        for cam, levels in own.items():
            if all(v >= bad for k, v in subscores.items() if k.startswith(f"{cam}.")):
                self.recent.setdefault(cam, deque(maxlen=self.window)).append(levels)


SOURCES: dict[str, tuple[str, ...]] = {
    f.name: tuple(src.key for src in f.sources) for f in FAMILIES if f.kind is not Kind.CAMERA
}
"""Each motion and integrity sub-score and the raw metrics it is the worst of (those the episode has)."""

HALF_KEY = {src.key: src.name for f in FAMILIES for src in f.sources if src.name != src.key}
"""Raw metrics whose bad boundary goes by another name in `QualityConfig.half`."""
PACE_REASONS = frozenset({crawl.PACE.key})
"""Reasons that do not keep a successful episode from teaching the scorer the operator's pace and looks."""


HESITATION_SCALE_MAX = 2.0
"""A session whose looks are long may pause this many times longer before a pause is a hesitation."""


def hesitation_scale(usual_look_s: float) -> float:
    """How much longer than a scripted expert's this operator may stand still mid-movement.

    A standstill after which motion carries on the same way (`idle_pause_s`) is a hesitation for an
    operator who never stops (the expert and the hand model look 0.2-0.5 s: scale 1, a 1 s pause is a
    defect); a person who looks 1 s before moving on also stops 1-1.7 s on the way down (to see
    where the gripper is, a reaction of 0.8 s). Scaled by the operator's usual look
    (`LookReference.usual`: what they did, never the prior), capped at 2 so that a 3 s standstill is
    a hesitation for anyone.
    """
    return min(HESITATION_SCALE_MAX, max(1.0, usual_look_s / cal.LOOK_FLOOR_S))


def subscores_from_raw(
    raw: Mapping[str, float],
    config: QualityConfig,
    reference_s: float,
    look_s: float | None = None,
    pause_scale: float = 1.0,
) -> dict[str, float]:
    """`reference_s`: the running time reference; `look_s`: the running look reference (None: looks are
    not judged); `pause_scale`: the operator's `hesitation_scale`."""
    half, p = config.half, config.power
    values = {**raw, crawl.PACE.key: raw["duration_s"] / reference_s - 1.0}
    if look_s is not None and "look_s" in raw:
        values[idle.LOOK.key] = raw["look_s"] / look_s - 1.0
    if idle.PAUSE.key in raw:
        values[idle.PAUSE.key] = raw[idle.PAUSE.key] / pause_scale
    s: dict[str, float] = {}
    for key, sources in SOURCES.items():
        subs = [subscore(values[k], half[HALF_KEY.get(k, k)], p) for k in sources if k in values]
        if subs:
            s[key] = min(subs)
    for cam in config.cameras:
        if raw.get(f"{cam}.images", 0.0) <= 0:
            continue
        for key in VISUAL:
            if f"{cam}.{key}" in raw:  # partial_view: only cameras with a calibrated cell range
                s[f"{cam}.{key}"] = subscore(raw[f"{cam}.{key}"], half[key], p)
    # A metric whose signal the layout lacks has a raw value all the same (idle without a TCP is all
    # idle): left out, it neither counts in the aggregate nor becomes a reason.
    missing = missing_metrics(config.layout)
    return {k: v for k, v in s.items() if k.rsplit(".", 1)[-1] not in missing}


def aggregate(subscores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Weighted geometric mean; a per-camera key `cam.metric` takes the weight of `metric`."""
    num = den = 0.0
    for key, value in subscores.items():
        w = weights.get(key, weights.get(key.rsplit(".", 1)[-1], 1.0))
        if w <= 0:
            continue
        num += w * math.log(max(value, 1e-9))
        den += w
    return math.exp(num / den) if den else 1.0


class EpisodeScorer:
    """Scores finished episodes in order, keeping the running time reference between them."""

    def __init__(self, config: QualityConfig) -> None:
        self.config = config
        self.reference = RunningReference(config.reference_duration_s, config.reference_window)
        self.looks = LookReference(cal.LOOK_PRIOR_S, cal.LOOK_FLOOR_S, config.reference_window)
        self.cameras = CameraReference(config.reference_window)

    def new_episode(self) -> EpisodeAccumulator:
        return EpisodeAccumulator(self.config)

    def report(
        self, episode_index: int, acc: EpisodeAccumulator, success: bool | None = None
    ) -> QualityReport:
        cfg = self.config
        own_levels = acc.camera_levels()  # empty unless the cameras' levels are learnt
        judged_by = self.cameras.judging(own_levels)
        acc.judge_cameras_by(judged_by)
        raw = acc.raw_metrics()
        ok = acc.success if success is None else bool(success)
        failed = cfg.success_gate and not ok  # without a success signal there is nothing to gate on
        # Without a success signal every episode is an attempt at the task: each one teaches the pace.
        paced = ok or not cfg.success_gate
        ref = self.reference.judging(acc.duration_s) if paced else self.reference.value
        look = self.looks.value
        scale = hesitation_scale(self.looks.usual(raw["look_s"])) if "look_s" in raw else 1.0
        subs = subscores_from_raw(raw, cfg, ref, look, scale)
        score = aggregate(subs, cfg.weights) * (cfg.failure_factor if failed else 1.0)
        reasons = []
        if failed:
            reasons.append("failed")
        worst = sorted(subs.items(), key=lambda kv: kv[1])
        for key, value in worst:
            if value < cfg.subscore_bad:
                code = key.rsplit(".", 1)[-1]
                if code not in reasons:
                    reasons.append(code)
        verdict = Verdict.BAD if (reasons or score < cfg.threshold) else Verdict.GOOD
        if paced and all(r in PACE_REASONS for r in reasons):
            # Good but perhaps for its pace: the operator's pace and looks are what the references learn.
            self.reference.update(acc.duration_s)
            if "look_s" in raw:
                self.looks.update(raw["look_s"])
        self.cameras.learn(own_levels, subs, cfg.subscore_bad)
        metrics = {k: round(float(v), 6) for k, v in raw.items()}
        for cam, levels in judged_by.items():
            metrics[f"{cam}.reference_brightness"] = round(levels.brightness, 3)
            metrics[f"{cam}.reference_sharpness"] = round(levels.sharpness, 4)
        if math.isfinite(ref):
            metrics["reference_duration_s"] = round(ref, 4)
        metrics["reference_look_s"] = round(look, 4)
        return QualityReport(
            episode_index=episode_index,
            score=round(score, 6),
            verdict=verdict,
            reasons=reasons,
            metrics=metrics,
            subscores={k: round(v, 6) for k, v in subs.items()},
            success=ok,
            num_frames=acc.n,
        )


def worst_metric(report: QualityReport) -> tuple[str, float]:
    if not report.subscores:
        return ("-", 1.0)
    key = min(report.subscores, key=lambda k: report.subscores[k])
    return key, report.subscores[key]


def console_line(report: QualityReport) -> str:
    key, value = worst_metric(report)
    reasons = ",".join(report.reasons) if report.reasons else "-"
    return (
        f"episode {report.episode_index}: score {report.score:.3f} {report.verdict.value.upper()} "
        f"(worst {key} {value:.2f}; reasons {reasons}; {report.num_frames} frames, "
        f"success {report.success})"
    )


class StreamScorer:
    """The scorer node's logic: one accumulator per followed attempt, a report when the attempt ends.

    The `EpisodeFollower` decides which frames belong to an attempt (the running ones the recorder
    records). The report goes out on the attempt's `Ended` event, before it settles, so the recorder
    has it by the time it commits; `rerecord` drops the attempt without one. Running frames that never
    arrived are counted: the report then carries the reason `gap` and `metrics["missing_frames"]`, as
    the recorder flags the saved episode.
    """

    def __init__(self, config: QualityConfig, use_images: bool = True) -> None:
        self.scorer = EpisodeScorer(config)
        self.use_images = use_images
        self.follower = EpisodeFollower()
        self.acc: EpisodeAccumulator | None = None
        self.reports: list[QualityReport] = []
        self.discarded = 0

    def on_frame(self, frame: Frame) -> QualityReport | None:
        report = None
        for ev in self.follower.feed(frame):
            if isinstance(ev, Started) and not ev.partial:
                self.acc = self.scorer.new_episode()
            elif isinstance(ev, Step) and self.acc is not None:
                self._add(ev.frame, self.acc, ev.stalled)
            elif isinstance(ev, Ended):
                report = self._end(ev)
        return report

    def _add(self, frame: Frame, acc: EpisodeAccumulator, stalled: bool) -> None:
        images = {"front": frame.front, "wrist": frame.wrist} if self.use_images else None
        acc.add_frame(
            frame.state,
            frame.action,
            success=frame.success,
            contact_force=frame.contact_force,
            cube_pose=frame.cube_pose,
            images=images,
            frame=frame.frame_index,
            stalled=stalled,
        )

    def _end(self, ended: Ended) -> QualityReport | None:
        acc, self.acc = self.acc, None
        if acc is None:
            return None
        if ended.reason is EndReason.RERECORD:
            self.discarded += 1
            return None
        report = self.scorer.report(
            ended.episode, acc, success=acc.success or ended.reason is EndReason.SUCCESS
        )
        if ended.missing_frames:  # frames lost at the end of an attempt leave no gap in the numbers
            if GAP.name not in report.reasons:
                report.reasons.append(GAP.name)
            report.metrics["missing_frames"] = max(
                report.metrics.get("missing_frames", 0.0), ended.missing_frames
            )
        self.reports.append(report)
        return report


def summary_line(reports: list[QualityReport], discarded: int = 0) -> str:
    if not reports:
        return f"quality summary: no episode scored ({discarded} discarded)"
    good = sum(r.verdict is Verdict.GOOD for r in reports)
    mean = sum(r.score for r in reports) / len(reports)
    counts: dict[str, int] = {}
    for r in reports:
        for reason in r.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    top = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"
    return (
        f"quality summary: {len(reports)} episodes scored, {good} good, {len(reports) - good} bad, "
        f"mean score {mean:.3f}, reasons: {top}; {discarded} discarded attempts"
    )
