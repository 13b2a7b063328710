"""Benchmark-only code, outside the product path: in-process autopilot episodes (`inprocess`), damage
done to recorded episodes (`recording_defects`) and the seed toolkit's scoring formulas re-implemented as
the speed and accuracy anchor (`anchor`). `sim_teleop` never imports it (tests/test_layers.py)."""
