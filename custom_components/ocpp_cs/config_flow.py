"""Config flow (one entry per port), options flow (settings and id tags), reconfigure."""

from __future__ import annotations

from collections.abc import Mapping
import errno
import os
import socket
import ssl
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import selector
from homeassistant.util import dt as dt_util
import probatio as vol

from .const import (
    CONF_DEBUG,
    CONF_HEARTBEAT_INTERVAL,
    CONF_LIMIT_PROFILE_ID,
    CONF_LIMIT_STACK_LEVEL,
    CONF_METER_VALUE_SAMPLE_INTERVAL,
    CONF_METER_VALUES_SAMPLED_DATA,
    CONF_NEW_CHARGERS,
    CONF_REMOTE_ID_TAG,
    CONF_SECURITY_PROFILE,
    CONF_SSL_CAFILE,
    CONF_SSL_CERTFILE,
    CONF_SSL_KEYFILE,
    CONF_SYNC_LOCAL_LIST,
    CONF_UNKNOWN_ID_TAGS,
    CONF_UPSTREAM_CA_FILE,
    CONF_UPSTREAM_OUTAGE_MINUTES,
    CONF_UPSTREAM_SKIP_VERIFY,
    CONF_UPSTREAM_URL,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_HOST,
    DEFAULT_NEW_CHARGERS,
    DEFAULT_PORT,
    DEFAULT_REMOTE_ID_TAG,
    DEFAULT_UNKNOWN_ID_TAGS,
    DOMAIN,
    NEW_CHARGERS_OPTIONS,
    UNKNOWN_ID_TAGS_OPTIONS,
)
from .engine.quirks import CHOICES, QUIRKS_AUTO, QUIRKS_NONE, detect
from .engine.server import PROFILE_TLS_BASIC, PROFILE_TLS_CLIENT_CERTIFICATE
from .engine.state import ID_TAG_STATUSES, ChargerState, IdTag
from .engine.util import snake
from .hub import OcppHub
from .local_controller import async_test_upstream, build_upstream_ssl_context
from .runtime import OcppRuntime
from .security import PROFILE_REJECTED, PROFILE_SAVED, async_set_security_profile
from .settings import build_ssl_context, entry_config

ID_TAG_MAX_LENGTH = 20  # IdToken is CiString20Type
CONF_ID_TAG = "id_tag"
CONF_NAME = "name"
CONF_STATUS = "status"
CONF_EXPIRY_DATE = "expiry_date"
CONF_PARENT_ID_TAG = "parent_id_tag"
CONF_ID_TAGS = "id_tags"
CONF_CHARGE_POINT_IDS = "charge_point_ids"
CONF_SINGLE_TRANSACTION = "single_transaction"
CONF_CHARGER = "charger"
CONF_MAX_CURRENT = "max_current"
CONF_PHASES = "phases"
CONF_QUIRK_PROFILE = "quirk_profile"
CONF_RELAYED = "relayed"
CONF_UPSTREAM_PASSWORD = "upstream_password"
CONF_CHARGE_POINT_ID = "charge_point_id"
# A charger's security profile: the entry's (the default), 2 or 3.
PROFILE_DEFAULT = "default"
SECURITY_PROFILES = [str(PROFILE_TLS_BASIC), str(PROFILE_TLS_CLIENT_CERTIFICATE)]

_TEXT = selector.TextSelector()
_PASSWORD = selector.TextSelector(selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD))


def _detected_quirk_profile(charger: ChargerState) -> str:
    """Return the quirk profile `auto` picks for a charger, as the options flow shows it."""
    boot = charger.boot
    detected = detect(boot.vendor, boot.model, boot.firmware_version)
    return f"{detected.brand} ({detected.name})" if detected is not None else QUIRKS_NONE


def _select(options: list[str], key: str) -> selector.SelectSelector:
    return selector.SelectSelector(
        selector.SelectSelectorConfig(options=options, translation_key=key, mode=selector.SelectSelectorMode.LIST)
    )


def _defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_HOST: config.get(CONF_HOST, DEFAULT_HOST),
        CONF_PORT: config.get(CONF_PORT, DEFAULT_PORT),
        CONF_NEW_CHARGERS: config.get(CONF_NEW_CHARGERS, DEFAULT_NEW_CHARGERS),
        CONF_UNKNOWN_ID_TAGS: config.get(CONF_UNKNOWN_ID_TAGS, DEFAULT_UNKNOWN_ID_TAGS),
        CONF_REMOTE_ID_TAG: config.get(CONF_REMOTE_ID_TAG, DEFAULT_REMOTE_ID_TAG),
        CONF_HEARTBEAT_INTERVAL: config.get(CONF_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_INTERVAL),
    }


def _optional(key: str, config: Mapping[str, Any]) -> vol.Optional:
    value = config.get(key)
    return vol.Optional(key, description={"suggested_value": value} if value else None)


def settings_schema(config: Mapping[str, Any], *, advanced: bool = True) -> vol.Schema:
    """Return the schema of the settings, filled with the current values.

    The user step asks only for the settings of CONTRACT.md (and the client CA); the options
    flow adds the advanced ones.
    """
    defaults = _defaults(config)
    fields: dict[Any, Any] = {
        vol.Required(CONF_HOST, default=defaults[CONF_HOST]): _TEXT,
        vol.Required(CONF_PORT, default=defaults[CONF_PORT]): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
    }
    fields.update(
        {
            vol.Required(CONF_NEW_CHARGERS, default=defaults[CONF_NEW_CHARGERS]): _select(
                NEW_CHARGERS_OPTIONS, CONF_NEW_CHARGERS
            ),
            vol.Required(CONF_UNKNOWN_ID_TAGS, default=defaults[CONF_UNKNOWN_ID_TAGS]): _select(
                UNKNOWN_ID_TAGS_OPTIONS, CONF_UNKNOWN_ID_TAGS
            ),
            vol.Required(CONF_REMOTE_ID_TAG, default=defaults[CONF_REMOTE_ID_TAG]): _TEXT,
            vol.Required(CONF_HEARTBEAT_INTERVAL, default=defaults[CONF_HEARTBEAT_INTERVAL]): vol.All(
                vol.Coerce(int), vol.Range(min=10, max=86400)
            ),
            _optional(CONF_PASSWORD, config): _PASSWORD,
            _optional(CONF_SSL_CERTFILE, config): _TEXT,
            _optional(CONF_SSL_KEYFILE, config): _TEXT,
            _optional(CONF_SSL_CAFILE, config): _TEXT,
            _optional(CONF_UPSTREAM_URL, config): _TEXT,
        }
    )
    if not advanced:
        return vol.Schema(fields)
    fields.update(
        {
            # With a client CA: the security profile of chargers without their own (2 lets a
            # site add the CA and move its chargers to profile 3 one at a time).
            _optional(CONF_SECURITY_PROFILE, config): _select(SECURITY_PROFILES, CONF_SECURITY_PROFILE),
            # Local controller mode: the upstream's certificate (verified unless turned off),
            # the outage after which a repair issue appears, and Home Assistant's limit profiles.
            _optional(CONF_UPSTREAM_CA_FILE, config): _TEXT,
            _optional(CONF_UPSTREAM_SKIP_VERIFY, config): selector.BooleanSelector(),
            _optional(CONF_UPSTREAM_OUTAGE_MINUTES, config): vol.All(vol.Coerce(int), vol.Range(min=1, max=10080)),
            _optional(CONF_LIMIT_PROFILE_ID, config): vol.All(vol.Coerce(int), vol.Range(min=1, max=1_000_000_000)),
            _optional(CONF_LIMIT_STACK_LEVEL, config): vol.All(vol.Coerce(int), vol.Range(min=0, max=100)),
            _optional(CONF_METER_VALUE_SAMPLE_INTERVAL, config): vol.All(
                vol.Coerce(int), vol.Range(min=0, max=86400)
            ),
            _optional(CONF_METER_VALUES_SAMPLED_DATA, config): _TEXT,
            # Keep every charger's local authorization list equal to the id tags (local_list.py).
            _optional(CONF_SYNC_LOCAL_LIST, config): selector.BooleanSelector(),
        }
    )
    return vol.Schema(fields)


def bind_problem(host: str, port: int) -> str | None:
    """
    Try to bind host:port as the server will; return a form error, None when it can (blocking).

    `port_in_use`: something else listens there; `port_not_allowed`: a privileged port;
    `cannot_bind`: the host is not an address of this machine (or no address at all).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            return "port_in_use"
        if err.errno == errno.EACCES:
            return "port_not_allowed"
        return "cannot_bind"
    return None


async def validate_settings(
    hass: HomeAssistant, user_input: dict[str, Any], *, own_entry: ConfigEntry | None = None
) -> dict[str, str]:
    """Check settings; return form errors by field."""
    errors: dict[str, str] = {}
    remote_id_tag = user_input.get(CONF_REMOTE_ID_TAG)
    if remote_id_tag is not None and not 0 < len(remote_id_tag) <= ID_TAG_MAX_LENGTH:
        errors[CONF_REMOTE_ID_TAG] = "id_tag_length"
    certfile, keyfile = user_input.get(CONF_SSL_CERTFILE), user_input.get(CONF_SSL_KEYFILE)
    for key, path in ((CONF_SSL_CERTFILE, certfile), (CONF_SSL_KEYFILE, keyfile)):
        if path and not await hass.async_add_executor_job(os.path.isfile, path):
            errors[key] = "file_not_found"
    if keyfile and not certfile:
        errors[CONF_SSL_CERTFILE] = "certfile_required"
    cafile = user_input.get(CONF_SSL_CAFILE)
    if cafile and not await hass.async_add_executor_job(os.path.isfile, cafile):
        errors[CONF_SSL_CAFILE] = "file_not_found"
    elif cafile and not certfile:
        errors[CONF_SSL_CERTFILE] = "certfile_required"
    if profile := user_input.get(CONF_SECURITY_PROFILE):
        if not (cafile and certfile):
            # Without a client CA the transport decides: 2 with a certificate, else 1.
            errors[CONF_SECURITY_PROFILE] = "cafile_required"
        elif int(profile) == PROFILE_TLS_BASIC and not user_input.get(CONF_PASSWORD):
            errors[CONF_SECURITY_PROFILE] = "password_required"
    if certfile and not errors.keys() & {CONF_SSL_CERTFILE, CONF_SSL_KEYFILE, CONF_SSL_CAFILE}:
        try:
            await hass.async_add_executor_job(build_ssl_context, certfile, keyfile)
        except (ssl.SSLError, OSError, ValueError):
            # Not PEM, or the key does not match the certificate: the server could not start.
            errors[CONF_SSL_CERTFILE] = "invalid_certificate"
        else:
            if cafile:
                try:
                    await hass.async_add_executor_job(build_ssl_context, certfile, keyfile, cafile)
                except (ssl.SSLError, OSError, ValueError):
                    errors[CONF_SSL_CAFILE] = "invalid_ca_file"
    upstream = user_input.get(CONF_UPSTREAM_URL)
    if upstream and not upstream.startswith(("ws://", "wss://")):
        errors[CONF_UPSTREAM_URL] = "invalid_upstream_url"
    if ca_file := user_input.get(CONF_UPSTREAM_CA_FILE):
        if not await hass.async_add_executor_job(os.path.isfile, ca_file):
            errors[CONF_UPSTREAM_CA_FILE] = "file_not_found"
        else:
            try:
                await hass.async_add_executor_job(build_upstream_ssl_context, ca_file, False)
            except (ssl.SSLError, OSError, ValueError):
                errors[CONF_UPSTREAM_CA_FILE] = "invalid_ca_file"
    # Every form that is validated here has the port (and the host).
    port = int(user_input[CONF_PORT])
    host = user_input.get(CONF_HOST, DEFAULT_HOST)
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry is not own_entry and int(entry_config(entry).get(CONF_PORT, DEFAULT_PORT)) == port:
            errors[CONF_PORT] = "port_configured"
            return errors
    if (
        own_entry is not None
        and own_entry.state is ConfigEntryState.LOADED
        and port == int(entry_config(own_entry).get(CONF_PORT, DEFAULT_PORT))
    ):
        # Its own server holds the port: only check that the host is an address here.
        port = 0
    if problem := await hass.async_add_executor_job(bind_problem, host, port):
        errors[CONF_HOST if problem == "cannot_bind" else CONF_PORT] = problem
    return errors


def _cleared() -> dict[str, None]:
    """Return every optional setting (no default: absent or empty means "not used") as None."""
    return {str(key): None for key in settings_schema({}).schema if isinstance(key, vol.Optional)}


def _clean(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Drop optional text fields left empty (and certificate checks left on: the default)."""
    return {
        key: value
        for key, value in user_input.items()
        if value not in ("", None) and not (key == CONF_UPSTREAM_SKIP_VERIFY and value is False)
    }


class OcppConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create a central system listening on one port."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the settings of a new central system."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = await validate_settings(self.hass, user_input)
            if not errors:
                data = _clean(user_input)
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
                vol.Required(CONF_HOST, default=config.get(CONF_HOST, DEFAULT_HOST)): _TEXT,
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


class OcppOptionsFlow(OptionsFlow):
    """Edit the settings and the id tags of a central system."""

    def __init__(self) -> None:
        """Start with no id tag and no charger selected."""
        self._editing: str | None = None
        self._charger: str | None = None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer the settings and the id tag steps."""
        return self.async_show_menu(
            step_id="init",
            menu_options=[
                "settings",
                "charger_settings",
                "add_id_tag",
                "add_presented_id_tag",
                "edit_id_tag",
                "remove_id_tag",
                "test_upstream",
            ],
        )

    async def async_step_settings(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Edit every setting of the entry."""
        config = entry_config(self.config_entry)
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = await validate_settings(self.hass, user_input, own_entry=self.config_entry)
            if not errors:
                new_port = int(user_input[CONF_PORT])
                if str(new_port) != self.config_entry.unique_id:
                    self.hass.config_entries.async_update_entry(
                        self.config_entry, unique_id=str(new_port), title=f"OCPP Central System :{new_port}"
                    )
                # Options overlay the data: a field left empty must hide a value set in the
                # user step (e.g. remove the password), so it is stored as None.
                return self.async_create_entry(data={**_cleared(), **_clean(user_input)})
        # Troubleshooting (options only): also log every frame at DEBUG level (troubleshooting.py).
        schema = settings_schema(config).extend({_optional(CONF_DEBUG, config): selector.BooleanSelector()})
        if user_input is not None:
            # Show the form again as submitted: a field the user emptied stays empty.
            schema = self.add_suggested_values_to_schema(schema, {**_cleared(), **user_input})
        return self.async_show_form(step_id="settings", data_schema=schema, errors=errors)

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
            if not errors:
                hub.central.set_charger_limits(
                    charger.charge_point_id,
                    max_current=float(user_input[CONF_MAX_CURRENT]),
                    phases=int(user_input[CONF_PHASES]),
                )
                choice = user_input.get(CONF_QUIRK_PROFILE, QUIRKS_AUTO)
                if choice != charger.quirk_profile:
                    hub.central.set_quirk_profile(charger.charge_point_id, choice)
                if upstream:
                    self._save_relay_settings(self._loaded_runtime(), charger, user_input)
                hub.central.changed(charger.charge_point_id, 0, frozenset({"settings"}))
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
        quirk_choice = charger.quirk_profile if charger.quirk_profile in CHOICES else QUIRKS_AUTO
        schema = vol.Schema(
            {
                vol.Required(CONF_MAX_CURRENT, default=charger.max_current): vol.All(
                    vol.Coerce(float), vol.Range(min=6, max=500)
                ),
                vol.Required(CONF_PHASES, default=str(charger.phases)): _select(["1", "3"], CONF_PHASES),
                vol.Required(CONF_QUIRK_PROFILE, default=quirk_choice): _select(list(CHOICES), CONF_QUIRK_PROFILE),
            }
        )
        if with_profile:
            current = str(charger.security_profile) if charger.security_profile else PROFILE_DEFAULT
            schema = schema.extend(
                {
                    vol.Required(CONF_SECURITY_PROFILE, default=current): _select(
                        [PROFILE_DEFAULT, *SECURITY_PROFILES], "charger_security_profile"
                    )
                }
            )
        if upstream:
            # Local controller mode: relayed (the default) or served here, and the upstream password.
            schema = schema.extend(
                {
                    vol.Required(CONF_RELAYED, default=charger.relayed is not False): selector.BooleanSelector(),
                    _optional(CONF_UPSTREAM_PASSWORD, {CONF_UPSTREAM_PASSWORD: charger.upstream_password}): _PASSWORD,
                }
            )
        if user_input is not None:
            schema = self.add_suggested_values_to_schema(schema, user_input)
        return self.async_show_form(
            step_id="charger_details",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "charge_point_id": charger.charge_point_id,
                "entry_profile": str(hub.default_security_profile),
                "detected_quirk_profile": _detected_quirk_profile(charger),
            },
        )

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
                vol.Optional(CONF_UPSTREAM_PASSWORD): _PASSWORD,
            }
        )
        return self.async_show_form(
            step_id="test_upstream",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=placeholders,
        )

    # --- id tags ------------------------------------------------------------------------

    def _loaded_runtime(self) -> OcppRuntime | None:
        if self.config_entry.state is not ConfigEntryState.LOADED:
            return None
        runtime = getattr(self.config_entry, "runtime_data", None)
        return runtime if isinstance(runtime, OcppRuntime) else None

    def _loaded_hub(self) -> OcppHub | None:
        runtime = self._loaded_runtime()
        return runtime.hub if runtime is not None else None

    def _id_tag_schema(self, tag: IdTag | None, chargers: list[str] | None = None) -> vol.Schema:
        fields: dict[Any, Any] = {}
        if tag is None:
            fields[vol.Required(CONF_ID_TAG)] = _TEXT
        fields.update(
            {
                vol.Optional(CONF_NAME): _TEXT,
                vol.Required(CONF_STATUS, default="accepted"): _select(
                    [snake(status) for status in ID_TAG_STATUSES], CONF_STATUS
                ),
                vol.Optional(CONF_EXPIRY_DATE): selector.DateTimeSelector(),
                vol.Optional(CONF_PARENT_ID_TAG): _TEXT,
                # Which chargers the tag may use (none chosen = all); ids can be typed too.
                vol.Optional(CONF_CHARGE_POINT_IDS): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=chargers or [], multiple=True, custom_value=True)
                ),
                vol.Required(CONF_SINGLE_TRANSACTION, default=True): selector.BooleanSelector(),
            }
        )
        schema = vol.Schema(fields)
        if tag is None:
            return schema
        current = {
            CONF_NAME: tag.name,
            CONF_STATUS: snake(tag.status),
            CONF_EXPIRY_DATE: tag.expiry_date.isoformat() if tag.expiry_date else None,
            CONF_PARENT_ID_TAG: tag.parent_id_tag,
            CONF_CHARGE_POINT_IDS: list(tag.charge_point_ids),
        }
        suggested: dict[str, Any] = {k: v for k, v in current.items() if v}
        suggested[CONF_SINGLE_TRANSACTION] = tag.single_transaction
        return self.add_suggested_values_to_schema(schema, suggested)

    @staticmethod
    def _chargers(hub: OcppHub) -> list[str]:
        return sorted(cp for cp, charger in hub.central.chargers.items() if charger.accepted)

    def _save_tag(self, hub: OcppHub, id_tag: str, user_input: dict[str, Any]) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not 0 < len(id_tag) <= ID_TAG_MAX_LENGTH:
            errors[CONF_ID_TAG] = "id_tag_length"
        parent = (user_input.get(CONF_PARENT_ID_TAG) or "").strip() or None
        if parent is not None and len(parent) > ID_TAG_MAX_LENGTH:
            errors[CONF_PARENT_ID_TAG] = "id_tag_length"
        # The date-time selector lets only what parse_datetime reads through.
        expiry = dt_util.parse_datetime(str(user_input[CONF_EXPIRY_DATE])) if user_input.get(CONF_EXPIRY_DATE) else None
        if expiry is not None and expiry.tzinfo is None:
            # The date-time selector gives the local time without an offset.
            expiry = expiry.replace(tzinfo=dt_util.get_default_time_zone())
        if errors:
            return errors
        status = {snake(s): s for s in ID_TAG_STATUSES}[user_input.get(CONF_STATUS, "accepted")]
        hub.central.set_id_tag(
            IdTag(
                id_tag=id_tag,
                status=status,
                expiry_date=expiry,
                parent_id_tag=parent,
                name=(user_input.get(CONF_NAME) or "").strip() or None,
                charge_point_ids=tuple(
                    dict.fromkeys(cp.strip() for cp in user_input.get(CONF_CHARGE_POINT_IDS) or () if cp.strip())
                ),
                single_transaction=bool(user_input.get(CONF_SINGLE_TRANSACTION, True)),
            )
        )
        return errors

    async def async_step_add_id_tag(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add an id tag (or replace one with the same id)."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._save_tag(hub, str(user_input[CONF_ID_TAG]).strip(), user_input)
            if not errors:
                return self.async_create_entry(data=dict(self.config_entry.options))
        schema = self.add_suggested_values_to_schema(
            self._id_tag_schema(None, self._chargers(hub)), user_input or {}
        )
        return self.async_show_form(step_id="add_id_tag", data_schema=schema, errors=errors)

    async def async_step_add_presented_id_tag(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add id tags that chargers presented lately and the list lacks (the newest is preselected)."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        presented = [p for p in reversed(hub.central.auth.presented) if p.id_tag.casefold() not in hub.central.id_tags]
        if not presented:
            return self.async_abort(reason="no_presented_id_tags")
        if user_input is not None:
            status = {snake(s): s for s in ID_TAG_STATUSES}[user_input.get(CONF_STATUS, "accepted")]
            for id_tag in user_input.get(CONF_ID_TAGS, []):
                hub.central.set_id_tag(IdTag(id_tag=id_tag, status=status))
            return self.async_create_entry(data=dict(self.config_entry.options))
        options = [
            selector.SelectOptionDict(
                value=p.id_tag,
                label=f"{p.id_tag} ({p.charge_point_id}, {dt_util.as_local(p.timestamp):%Y-%m-%d %H:%M}, {p.status})",
            )
            for p in presented
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_ID_TAGS, default=[presented[0].id_tag]): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options, multiple=True)
                ),
                vol.Required(CONF_STATUS, default="accepted"): _select(
                    [snake(status) for status in ID_TAG_STATUSES], CONF_STATUS
                ),
            }
        )
        return self.async_show_form(step_id="add_presented_id_tag", data_schema=schema)

    async def async_step_edit_id_tag(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose an id tag to edit."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        if not hub.central.id_tags:
            return self.async_abort(reason="no_id_tags")
        if user_input is not None:
            self._editing = user_input[CONF_ID_TAG]
            return await self.async_step_edit_id_tag_details()
        options = [
            selector.SelectOptionDict(value=tag.id_tag, label=f"{tag.name} ({tag.id_tag})" if tag.name else tag.id_tag)
            for tag in hub.central.id_tags.values()
        ]
        schema = vol.Schema(
            {vol.Required(CONF_ID_TAG): selector.SelectSelector(selector.SelectSelectorConfig(options=options))}
        )
        return self.async_show_form(step_id="edit_id_tag", data_schema=schema)

    async def async_step_edit_id_tag_details(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Edit the chosen id tag."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        tag = hub.central.id_tags.get((self._editing or "").casefold())
        if tag is None:
            return self.async_abort(reason="unknown_id_tag")
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._save_tag(hub, tag.id_tag, user_input)
            if not errors:
                return self.async_create_entry(data=dict(self.config_entry.options))
        return self.async_show_form(
            step_id="edit_id_tag_details",
            data_schema=self._id_tag_schema(tag, self._chargers(hub)),
            errors=errors,
            description_placeholders={"id_tag": tag.id_tag},
        )

    async def async_step_remove_id_tag(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Remove id tags."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        if not hub.central.id_tags:
            return self.async_abort(reason="no_id_tags")
        if user_input is not None:
            for id_tag in user_input.get(CONF_ID_TAGS, []):
                hub.central.remove_id_tag(id_tag)
            return self.async_create_entry(data=dict(self.config_entry.options))
        options = [tag.id_tag for tag in hub.central.id_tags.values()]
        schema = vol.Schema(
            {
                vol.Required(CONF_ID_TAGS): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options, multiple=True)
                )
            }
        )
        return self.async_show_form(step_id="remove_id_tag", data_schema=schema)
