"""The files students complete. Each task lives in its own module."""
