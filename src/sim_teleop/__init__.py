"""Simulated teleoperation, recording, scoring and evaluation on dora-rs."""
