"""Episode quality scoring: running metrics, sub-scores, aggregate and verdict (live and offline).

Each metric family is declared once, with its meter, in `families/` (registered in `family.FAMILIES`);
`metrics.EpisodeAccumulator` runs every registered meter with O(1) work per frame; `scorer.EpisodeScorer`
turns the raw metrics into a `QualityReport`; `scorer.StreamScorer` follows the sim's frame stream for
the scorer node; `offline` scores an existing LeRobotDataset. The anchor toolkit's formulas and the
in-process episodes of the benchmark live in `sim_teleop_bench`.
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
