"""Benchmark-only code, outside the product path: in-process autopilot episodes (`inprocess`), damage
done to recorded episodes (`recording_defects`), the seed toolkit's scoring formulas re-implemented as
the speed and accuracy anchor (`anchor`), and the handover latency benchmark's probe node and arithmetic
(`handover_probe`, `handover_latency`), and a tiny dataset and checkpoint made from the real sim
(`tiny_policy`, shared with the policy tests). `sim_teleop` never imports it (tests/test_layers.py)."""
