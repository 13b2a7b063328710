"""Names of the recorder's working directory inside a dataset root: one definition for the writers
(`publish`, `store`, `repair`) and the reader, which must see through an older recorder's commit in
flight (`reader.read_info(committed=True)`)."""

JOURNAL_DIR = ".recorder"
"""The writer's working directory in the root: the stage, and an older recorder's commit journal."""
STAGE = "stage"
"""Where the episode being recorded is written by its own lerobot session (`publish.prepare_stage`)."""
JOURNAL = "commit.json"
"""An older recorder's journal of a commit in flight (rolled back by `repair`; no longer written)."""
BACKUP = "backup"
"""That journal's copies of the files the commit was replacing."""
