"""Closed-loop evaluation: per-episode results, success rate, in-process rollouts, learning curves."""
