"""Repairs: accept a charger that booted while new chargers are `pending`."""

from __future__ import annotations

from typing import Any

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import probatio as vol

from .runtime import OcppRuntime


class AcceptChargerFlow(RepairsFlow):
    """Confirm, then accept the charger and ask it to boot again."""

    def __init__(self, entry_id: str, charge_point_id: str) -> None:
        """Remember which charger of which entry to accept."""
        self._entry_id = entry_id
        self._charge_point_id = charge_point_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start with the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Accept the charger once the user confirms."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if user_input is not None:
            runtime = getattr(entry, "runtime_data", None) if entry else None
            if entry is None or entry.state is not ConfigEntryState.LOADED or not isinstance(runtime, OcppRuntime):
                return self.async_abort(reason="not_loaded")
            runtime.hub.accept_pending(self._charge_point_id)
            return self.async_create_entry(data={})
        # The same placeholders as the issue's text (the description names the entry).
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders={
                "charge_point_id": self._charge_point_id,
                "entry": entry.title if entry is not None else self._entry_id,
            },
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Create the flow that fixes a pending-charger issue."""
    assert data is not None
    return AcceptChargerFlow(str(data["entry_id"]), str(data["charge_point_id"]))
