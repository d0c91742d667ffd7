"""Config flow (one entry per port) and reconfigure; the options flow is options_flow.py."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import callback
import probatio as vol

from .const import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DOMAIN,
)
from .flow_forms import (
    TEXT,
    clean_settings,
    settings_schema,
    validate_settings,
)
from .options_flow import OcppOptionsFlow
from .settings import entry_config


class OcppConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create a central system listening on one port."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the settings of a new central system."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = await validate_settings(self.hass, user_input)
            if not errors:
                data = clean_settings(user_input)
                await self.async_set_unique_id(str(data[CONF_PORT]))
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=f"OCPP Central System :{data[CONF_PORT]}", data=data)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(settings_schema({}, advanced=False), user_input or {}),
            errors=errors,
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the host and port a central system listens on."""
        entry = self._get_reconfigure_entry()
        config = entry_config(entry)
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = await validate_settings(self.hass, user_input, own_entry=entry)
            if not errors:
                options = {k: v for k, v in entry.options.items() if k not in (CONF_HOST, CONF_PORT)}
                # A loaded entry reloads itself when its host or port changes (its update
                # listener, which may run at once); reloading here too would restart the
                # server twice. An entry that is not loaded (e.g. waiting for its port) is set up.
                loaded = entry.state is ConfigEntryState.LOADED
                self.hass.config_entries.async_update_entry(
                    entry,
                    unique_id=str(user_input[CONF_PORT]),
                    title=f"OCPP Central System :{user_input[CONF_PORT]}",
                    data={**entry.data, CONF_HOST: user_input[CONF_HOST], CONF_PORT: int(user_input[CONF_PORT])},
                    options=options,
                )
                if not loaded:
                    self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_abort(reason="reconfigure_successful")
        schema = vol.Schema(
            {
                vol.Required(CONF_HOST, default=config.get(CONF_HOST, DEFAULT_HOST)): TEXT,
                vol.Required(CONF_PORT, default=config.get(CONF_PORT, DEFAULT_PORT)): vol.All(
                    vol.Coerce(int), vol.Range(min=1, max=65535)
                ),
            }
        )
        return self.async_show_form(step_id="reconfigure", data_schema=schema, errors=errors)

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OcppOptionsFlow:
        """Return the options flow."""
        return OcppOptionsFlow()
