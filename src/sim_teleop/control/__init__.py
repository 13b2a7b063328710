"""What drives the sim: keyboard teleop, the scripted expert and its defect injectors, a trained policy."""
