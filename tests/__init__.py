"""Tests of the ocpp_cs integration."""
