"""Running dataflows: the `sim-teleop` console and the environment for `dora run` from Python."""
