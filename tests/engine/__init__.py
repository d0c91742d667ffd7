"""Engine tests that run without Home Assistant."""
