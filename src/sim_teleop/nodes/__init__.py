"""The dora nodes, each a thin `main()` behind a `sim-teleop-<node>` entry point."""
