"""What a dataset cost the person who made it, in operator-minutes.

The human loop is only worth it if corrections buy more success per minute of a person's time than more
demonstrations do, so both are counted in the same unit from what was recorded:

- a demonstration costs its own length (frames / fps) plus the keys around it (`BETWEEN_EPISODES_S`:
  Space to keep it and reset, a look at the new cube, Space to start the next);
- an eval round with takeovers costs every episode in full, taken over or not: the person has to watch
  the policy to know when to take over, and resets are automatic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim_teleop.dataset.reader import read_episodes, read_info

BETWEEN_EPISODES_S = 3.0
"""A person's time between two recorded episodes: two key presses and a look at the new scene."""


@dataclass(frozen=True, slots=True)
class OperatorTime:
    """A dataset's episodes, its recorded seconds and what they cost a person."""

    episodes: int
    recorded_s: float
    operator_s: float

    @property
    def operator_min(self) -> float:
        return self.operator_s / 60.0


def episode_lengths(root: Path) -> list[int]:
    """Frames per episode, in episode order (from `meta/episodes`, no video decoded)."""
    info = read_info(root)
    return [int(e["length"]) for e in read_episodes(root, info)]


def demonstration_time(root: Path, between_s: float = BETWEEN_EPISODES_S) -> OperatorTime:
    """Operator time of recording every episode of `root` by hand."""
    fps = float(read_info(root)["fps"])
    lengths = episode_lengths(root)
    recorded = sum(lengths) / fps
    return OperatorTime(len(lengths), recorded, recorded + between_s * len(lengths))


def watched_time(root: Path) -> OperatorTime:
    """Operator time of an eval round a person watched to take over: every episode in full."""
    fps = float(read_info(root)["fps"])
    lengths = episode_lengths(root)
    recorded = sum(lengths) / fps
    return OperatorTime(len(lengths), recorded, recorded)
