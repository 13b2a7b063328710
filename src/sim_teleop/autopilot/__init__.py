"""The autopilot: the scripted expert records demonstrations unattended (`session`)."""
