"""OCPP 2.0.1: the wire module beside v16/, over the same version-neutral core."""
