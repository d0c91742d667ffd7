"""Engine tests are plain pytest: no Home Assistant instance behind them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite's autouse fixture, which would start Home Assistant for every test."""
