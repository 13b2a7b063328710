"""The simulator side: the gym-hil env, its per-tick runner, the episode state machine, the tick clock."""
