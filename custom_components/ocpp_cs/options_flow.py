"""Options flow: the entry's settings, per-charger settings and the upstream test (id tags: options_id_tags.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_PASSWORD, CONF_PORT
from homeassistant.helpers import selector
import probatio as vol

from .const import (
    CONF_DEBUG,
    CONF_SECURITY_PROFILE,
    CONF_UPSTREAM_URL,
)
from .engine.quirks import CHOICES, QUIRKS_AUTO
from .engine.server import PROFILE_TLS_BASIC, PROFILE_TLS_CLIENT_CERTIFICATE
from .engine.state import OCPP_VERSION_AUTO, OCPP_VERSION_CHOICES, ChargerState
from .flow_forms import (
    CONF_CHARGE_POINT_ID,
    CONF_CHARGER,
    CONF_MAX_CURRENT,
    CONF_MIN_CURRENT,
    CONF_OCPP_VERSION,
    CONF_PHASES,
    CONF_QUIRK_PROFILE,
    CONF_RELAYED,
    CONF_UPSTREAM_PASSWORD,
    PASSWORD,
    PROFILE_DEFAULT,
    SECURITY_PROFILES,
    clean_settings,
    cleared_settings,
    detected_quirk_profile,
    flatten_sections,
    optional_field,
    section_errors,
    sectioned_schema,
    select_field,
    settings_schema,
    validate_settings,
)
from .flow_prices import kept_price_options, price_options, prices_schema, validate_prices
from .hub import OcppHub
from .local_controller import async_test_upstream
from .options_id_tags import IdTagSteps
from .runtime import OcppRuntime
from .security import PROFILE_REJECTED, PROFILE_SAVED, async_set_security_profile
from .settings import entry_config
from .site_forms import kept_site_options, site_options, site_schema, validate_site


class OcppOptionsFlow(IdTagSteps):
    """Edit the settings and the id tags of a central system."""

    def __init__(self) -> None:
        """Start with no id tag and no charger selected."""
        self._editing: str | None = None
        self._charger: str | None = None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer the settings and the id tag steps (only those that can apply)."""
        return self.async_show_menu(
            step_id="init",
            menu_options=[
                step
                for step in (
                    "settings",
                    "charger_settings",
                    "site",
                    "prices",
                    "add_id_tag",
                    "add_presented_id_tag",
                    "edit_id_tag",
                    "remove_id_tag",
                    "test_upstream",
                )
                if self._menu_step_applies(step)
            ],
        )

    def _menu_step_applies(self, step: str) -> bool:
        """Return False for a step that could only abort: no id tag to edit, no upstream to test.

        While the entry is not loaded its id tags are unknown: those steps stay, and say so.
        """
        if step == "test_upstream":
            return bool(entry_config(self.config_entry).get(CONF_UPSTREAM_URL))
        if step in ("edit_id_tag", "remove_id_tag"):
            hub = self._loaded_hub()
            return hub is None or bool(hub.central.id_tags)
        return True

    async def async_step_settings(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Edit every setting of the entry (a form in sections; the options are stored flat)."""
        config = entry_config(self.config_entry)
        field_errors: dict[str, str] = {}
        settings: dict[str, Any] = {}
        if user_input is not None:
            settings = flatten_sections(user_input)
            field_errors = await validate_settings(self.hass, settings, own_entry=self.config_entry)
            if not field_errors:
                new_port = int(settings[CONF_PORT])
                if str(new_port) != self.config_entry.unique_id:
                    self.hass.config_entries.async_update_entry(
                        self.config_entry, unique_id=str(new_port), title=f"OCPP Central System :{new_port}"
                    )
                # Options overlay the data: a field left empty must hide a value set in the
                # user step (e.g. remove the password), so it is stored as None.
                return self.async_create_entry(
                    data={
                        **kept_site_options(self.config_entry.options),
                        **kept_price_options(self.config_entry.options),
                        **cleared_settings(),
                        **clean_settings(settings),
                    }
                )
        # Troubleshooting (options only): also log every frame at DEBUG level (troubleshooting.py).
        schema = settings_schema(config).extend({optional_field(CONF_DEBUG, config): selector.BooleanSelector()})
        if user_input is not None:
            # Show the form again as submitted: a field the user emptied stays empty.
            schema = self.add_suggested_values_to_schema(schema, {**cleared_settings(), **settings})
        return self.async_show_form(
            step_id="settings",
            data_schema=sectioned_schema(schema, open_fields=field_errors),
            errors=section_errors(field_errors),
        )

    # --- per-charger settings -----------------------------------------------------------

    async def async_step_charger_settings(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose a charger whose maximum current and phases to set."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        chargers = sorted(cp for cp, charger in hub.central.chargers.items() if charger.accepted)
        if not chargers:
            return self.async_abort(reason="no_chargers")
        if user_input is not None:
            self._charger = user_input[CONF_CHARGER]
            return await self.async_step_charger_details()
        schema = vol.Schema(
            {vol.Required(CONF_CHARGER): selector.SelectSelector(selector.SelectSelectorConfig(options=chargers))}
        )
        return self.async_show_form(step_id="charger_settings", data_schema=schema)

    async def async_step_charger_details(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set a charger's maximum current (the limit numbers' range) and its phases."""
        hub = self._loaded_hub()
        charger = hub.central.chargers.get(self._charger or "") if hub else None
        if hub is None or charger is None:
            return self.async_abort(reason="not_loaded")
        config = entry_config(self.config_entry)
        upstream = bool(config.get(CONF_UPSTREAM_URL))
        # A charger's own security profile counts where the entry has a client CA (shown
        # without one too when it has one, so that it can be set back to the entry's).
        with_profile = hub.client_ca or charger.security_profile is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            outcome = PROFILE_SAVED
            if with_profile:
                choice = user_input.get(CONF_SECURITY_PROFILE, PROFILE_DEFAULT)
                profile = None if choice == PROFILE_DEFAULT else int(choice)
                errors = self._security_profile_errors(hub, charger, profile, config)
                if not errors:
                    outcome = await async_set_security_profile(hub, charger.charge_point_id, profile)
                    if outcome == PROFILE_REJECTED:
                        errors[CONF_SECURITY_PROFILE] = PROFILE_REJECTED
            if float(user_input[CONF_MIN_CURRENT]) > float(user_input[CONF_MAX_CURRENT]):
                errors[CONF_MIN_CURRENT] = "min_above_max"
            if not errors:
                self._save_charger_details(hub, charger, user_input, upstream=upstream)
                if outcome != PROFILE_SAVED:
                    # What the charger was told, or what to set on it by hand.
                    required = hub.security_requirement(charger.charge_point_id)
                    return self.async_abort(
                        reason=outcome,
                        description_placeholders={
                            "charge_point_id": charger.charge_point_id,
                            "profile": str(required.profile),
                            "fallback": str(required.fallback or ""),
                        },
                    )
                return self.async_create_entry(data=dict(self.config_entry.options))
        schema = self._charger_details_schema(charger, with_profile=with_profile, upstream=upstream)
        if user_input is not None:
            schema = self.add_suggested_values_to_schema(schema, user_input)
        return self.async_show_form(
            step_id="charger_details",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "charge_point_id": charger.charge_point_id,
                "entry_profile": str(hub.default_security_profile),
                "detected_quirk_profile": detected_quirk_profile(charger),
            },
        )

    def _save_charger_details(
        self, hub: OcppHub, charger: ChargerState, user_input: Mapping[str, Any], *, upstream: bool
    ) -> None:
        """Store the charger's limits, quirk profile and relay settings through the engine."""
        hub.central.set_charger_limits(
            charger.charge_point_id,
            max_current=float(user_input[CONF_MAX_CURRENT]),
            phases=int(user_input[CONF_PHASES]),
        )
        hub.central.set_min_current(charger.charge_point_id, float(user_input[CONF_MIN_CURRENT]))
        self._save_protocol_choices(hub, charger, user_input)
        if upstream:
            self._save_relay_settings(self._loaded_runtime(), charger, user_input)
        hub.central.changed(charger.charge_point_id, 0, frozenset({"settings"}))

    @staticmethod
    def _save_protocol_choices(hub: OcppHub, charger: ChargerState, user_input: Mapping[str, Any]) -> None:
        """Apply the charger's quirk profile and OCPP version choices (engine methods validate them)."""
        choice = user_input.get(CONF_QUIRK_PROFILE, QUIRKS_AUTO)
        if choice != charger.quirk_profile:
            hub.central.set_quirk_profile(charger.charge_point_id, choice)
        hub.central.set_ocpp_version_choice(
            charger.charge_point_id, user_input.get(CONF_OCPP_VERSION, OCPP_VERSION_AUTO)
        )

    @staticmethod
    def _charger_details_schema(charger: ChargerState, *, with_profile: bool, upstream: bool) -> vol.Schema:
        """Return the charger settings form: limits and quirks, its security profile, relaying."""
        quirk_choice = charger.quirk_profile if charger.quirk_profile in CHOICES else QUIRKS_AUTO
        schema = vol.Schema(
            {
                vol.Required(CONF_MAX_CURRENT, default=charger.max_current): vol.All(
                    vol.Coerce(float), vol.Range(min=6, max=500)
                ),
                vol.Required(CONF_PHASES, default=str(charger.phases)): select_field(["1", "3"], CONF_PHASES),
                # The site controller's minimum (site energy management): below it, it pauses.
                vol.Required(CONF_MIN_CURRENT, default=charger.min_current): vol.All(
                    vol.Coerce(float), vol.Range(min=1, max=500)
                ),
                vol.Required(CONF_QUIRK_PROFILE, default=quirk_choice): select_field(list(CHOICES), CONF_QUIRK_PROFILE),
                vol.Required(CONF_OCPP_VERSION, default=charger.ocpp_version_choice): select_field(
                    list(OCPP_VERSION_CHOICES), CONF_OCPP_VERSION
                ),
            }
        )
        if with_profile:
            current = str(charger.security_profile) if charger.security_profile else PROFILE_DEFAULT
            schema = schema.extend(
                {
                    vol.Required(CONF_SECURITY_PROFILE, default=current): select_field(
                        [PROFILE_DEFAULT, *SECURITY_PROFILES], "charger_security_profile"
                    )
                }
            )
        if upstream:
            # Local controller mode: relayed (the default) or served here, and the upstream password.
            schema = schema.extend(
                {
                    vol.Required(CONF_RELAYED, default=charger.relayed is not False): selector.BooleanSelector(),
                    optional_field(
                        CONF_UPSTREAM_PASSWORD, {CONF_UPSTREAM_PASSWORD: charger.upstream_password}
                    ): PASSWORD,
                }
            )
        return schema

    @staticmethod
    def _security_profile_errors(
        hub: OcppHub, charger: ChargerState, profile: int | None, config: Mapping[str, Any]
    ) -> dict[str, str]:
        """Refuse a profile the charger could never connect with."""
        if profile == PROFILE_TLS_CLIENT_CERTIFICATE and not hub.client_ca:
            return {CONF_SECURITY_PROFILE: "cafile_required"}
        effective = profile or hub.default_security_profile
        if (
            hub.client_ca
            and effective == PROFILE_TLS_BASIC
            and not (charger.password or config.get(CONF_PASSWORD))
        ):
            # Where chargers also use certificates, the server refuses a profile 2 one without a password.
            return {CONF_SECURITY_PROFILE: "password_required"}
        return {}

    @staticmethod
    def _save_relay_settings(runtime: OcppRuntime | None, charger: ChargerState, user_input: Mapping[str, Any]) -> None:
        """Store a charger's relay settings; it reconnects when they changed, to use them."""
        relayed = None if user_input.get(CONF_RELAYED, True) else False
        password = user_input.get(CONF_UPSTREAM_PASSWORD) or None
        if runtime is None:
            return
        changed = runtime.hub.central.set_relay_settings(
            charger.charge_point_id, relayed=relayed, upstream_password=password
        )
        if changed:
            runtime.local_controller.reconnect(charger.charge_point_id)

    # --- site energy management ------------------------------------------------------------

    async def async_step_site(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set the main fuse, the grid measurement and the fail-safe (applied without a reload)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = validate_site(self.hass, user_input)
            if not errors:
                return self.async_create_entry(data={**self.config_entry.options, **site_options(user_input)})
        schema = site_schema(entry_config(self.config_entry))
        if user_input is not None:
            schema = self.add_suggested_values_to_schema(schema, user_input)
        return self.async_show_form(step_id="site", data_schema=schema, errors=errors)

    # --- costs and plans: the price source ---------------------------------------------------

    async def async_step_prices(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set the price sensor or the fixed price, and the fee per session."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = validate_prices(self.hass, user_input)
            if not errors:
                return self.async_create_entry(data={**self.config_entry.options, **price_options(user_input)})
        schema = prices_schema(entry_config(self.config_entry))
        if user_input is not None:
            schema = self.add_suggested_values_to_schema(schema, user_input)
        return self.async_show_form(step_id="prices", data_schema=schema, errors=errors)

    # --- local controller mode: test the upstream connection ------------------------------

    async def async_step_test_upstream(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Connect to the upstream as a charger would and report the outcome."""
        config = entry_config(self.config_entry)
        url = config.get(CONF_UPSTREAM_URL)
        if not url:
            return self.async_abort(reason="no_upstream_url")
        hub = self._loaded_hub()
        errors: dict[str, str] = {}
        placeholders = {"url": str(url), "detail": "", "status": ""}
        if user_input is not None:
            charge_point_id = str(user_input[CONF_CHARGE_POINT_ID]).strip()
            charger = hub.central.chargers.get(charge_point_id) if hub is not None else None
            runtime = self._loaded_runtime()
            controller = runtime.local_controller if runtime is not None else None
            status = controller.status(charge_point_id) if controller is not None else None
            live = hub is not None and charge_point_id in hub.central.sessions
            if live and status is not None and status.connected:
                # A second connection as this charger could make the upstream drop the live one.
                return self.async_abort(
                    reason="upstream_test_connected",
                    description_placeholders={"url": str(url), "charge_point_id": charge_point_id},
                )
            password = user_input.get(CONF_UPSTREAM_PASSWORD) or (charger.upstream_password if charger else None)
            failure = await async_test_upstream(self.hass, config, charge_point_id, password)
            if failure is None:
                return self.async_abort(
                    reason="upstream_test_ok",
                    description_placeholders={"url": str(url), "charge_point_id": charge_point_id},
                )
            errors["base"] = f"upstream_{failure.kind}"
            placeholders.update(detail=failure.detail, status=str(failure.status or ""))
        chargers = sorted(hub.central.chargers) if hub is not None else []
        schema = vol.Schema(
            {
                vol.Required(CONF_CHARGE_POINT_ID): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=chargers, custom_value=True)
                ),
                vol.Optional(CONF_UPSTREAM_PASSWORD): PASSWORD,
            }
        )
        return self.async_show_form(
            step_id="test_upstream",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=placeholders,
        )
