"""The OCPP 1.6J central system engine: no Home Assistant imports below this package."""
