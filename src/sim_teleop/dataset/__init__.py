"""The LeRobotDataset v3.0 format: feature keys, crash-safe writing, reading, sidecar, repair, compaction.

`features` names every column, `store` writes episodes, `publish` switches the root to the next committed
version in one atomic step, `repair` tidies what a killed writer left, `reader` is the only code that
reads info.json and parquet files.
"""


class DatasetError(RuntimeError):
    """The dataset cannot be used as asked; the text says why and what to do."""
