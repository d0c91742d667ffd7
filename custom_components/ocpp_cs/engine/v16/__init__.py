"""OCPP 1.6J on the wire: the session, its framing and checks, and 1.6 payloads to and from the core's terms."""
