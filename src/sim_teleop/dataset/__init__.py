"""The LeRobotDataset v3.0 format: feature keys, crash-safe writing, reading, sidecar, repair, compaction."""
