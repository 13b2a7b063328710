"""Scoring in-process episodes in order, as the scorer node would: shared by the operator-model tests."""

from __future__ import annotations

from sim_teleop.messages import QualityReport
from sim_teleop.quality import EpisodeScorer
from sim_teleop_bench.inprocess import Episode


def score_in_order(scorer: EpisodeScorer, episodes: list[Episode]) -> list[QualityReport]:
    """One report per episode, from one scorer (its running time reference carries over)."""
    reports = []
    for ep in episodes:
        acc = scorer.new_episode()
        for i, f in enumerate(ep.frames):
            acc.add_frame(f.state, f.action, f.success, f.contact_force, f.cube_pose, frame=i)
        reports.append(scorer.report(0, acc, success=ep.success))
    return reports
