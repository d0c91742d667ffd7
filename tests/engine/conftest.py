"""Engine unit tests need no Home Assistant: the package-wide autouse fixture that starts one is replaced."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Start no Home Assistant (tests/conftest.py's fixture of this name needs `hass`)."""
