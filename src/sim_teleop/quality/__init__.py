"""Episode quality scoring: running metrics, sub-scores, aggregate and verdict (live and offline).

`metrics.EpisodeAccumulator` holds O(1)-per-frame running metrics; `scorer.EpisodeScorer` turns them into a
`QualityReport`; `scorer.StreamScorer` follows the sim's frame stream for the scorer node; `anchor`
re-implements the offline anchor toolkit's formulas for the benchmark; `offline` scores an existing
LeRobotDataset; `episodes` generates in-process autopilot episodes for calibration and the benchmark.
"""

from sim_teleop.quality.config import QualityConfig, SignalLayout, load_quality_config
from sim_teleop.quality.metrics import EpisodeAccumulator
from sim_teleop.quality.scorer import EpisodeScorer, StreamScorer, aggregate, console_line, subscore

__all__ = [
    "EpisodeAccumulator",
    "EpisodeScorer",
    "QualityConfig",
    "SignalLayout",
    "StreamScorer",
    "aggregate",
    "console_line",
    "load_quality_config",
    "subscore",
]
