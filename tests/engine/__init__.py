"""Engine unit tests: plain functions on the engine's objects, no Home Assistant, no sockets."""
