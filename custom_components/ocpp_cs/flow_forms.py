"""The forms of the config and options flows: settings schema, validation, shared fields."""

from __future__ import annotations

from collections.abc import Collection, Mapping
import errno
import os
import socket
import ssl
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector
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
from .engine.quirks import QUIRKS_NONE, detect
from .engine.server import PROFILE_TLS_BASIC, PROFILE_TLS_CLIENT_CERTIFICATE
from .engine.state import ChargerState
from .local_controller import build_upstream_ssl_context
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
CONF_OCPP_VERSION = "ocpp_version"
CONF_RELAYED = "relayed"
CONF_UPSTREAM_PASSWORD = "upstream_password"
CONF_CHARGE_POINT_ID = "charge_point_id"
CONF_MIN_CURRENT = "min_current"
# A charger's security profile: the entry's (the default), 2 or 3.
PROFILE_DEFAULT = "default"
SECURITY_PROFILES = [str(PROFILE_TLS_BASIC), str(PROFILE_TLS_CLIENT_CERTIFICATE)]

TEXT = selector.TextSelector()
PASSWORD = selector.TextSelector(selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD))


def detected_quirk_profile(charger: ChargerState) -> str:
    """Return the quirk profile `auto` picks for a charger, as the options flow shows it."""
    boot = charger.boot
    detected = detect(boot.vendor, boot.model, boot.firmware_version)
    return f"{detected.brand} ({detected.name})" if detected is not None else QUIRKS_NONE


def select_field(options: list[str], key: str) -> selector.SelectSelector:
    """Return a list of choices translated under `selector.<key>`."""
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


def optional_field(key: str, config: Mapping[str, Any]) -> vol.Optional:
    """Return an optional field that suggests its current value (none when it is not set)."""
    value = config.get(key)
    return vol.Optional(key, description={"suggested_value": value} if value else None)


# Over 60 lines: one entry per option of the Settings form, read top to bottom in form order.
def settings_schema(config: Mapping[str, Any], *, advanced: bool = True) -> vol.Schema:
    """Return the schema of the settings, filled with the current values.

    The user step asks only for the settings of CONTRACT.md (and the client CA); the options
    flow adds the advanced ones.
    """
    defaults = _defaults(config)
    fields: dict[Any, Any] = {
        vol.Required(CONF_HOST, default=defaults[CONF_HOST]): TEXT,
        vol.Required(CONF_PORT, default=defaults[CONF_PORT]): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
    }
    fields.update(
        {
            vol.Required(CONF_NEW_CHARGERS, default=defaults[CONF_NEW_CHARGERS]): select_field(
                NEW_CHARGERS_OPTIONS, CONF_NEW_CHARGERS
            ),
            vol.Required(CONF_UNKNOWN_ID_TAGS, default=defaults[CONF_UNKNOWN_ID_TAGS]): select_field(
                UNKNOWN_ID_TAGS_OPTIONS, CONF_UNKNOWN_ID_TAGS
            ),
            vol.Required(CONF_REMOTE_ID_TAG, default=defaults[CONF_REMOTE_ID_TAG]): TEXT,
            vol.Required(CONF_HEARTBEAT_INTERVAL, default=defaults[CONF_HEARTBEAT_INTERVAL]): vol.All(
                vol.Coerce(int), vol.Range(min=10, max=86400)
            ),
            optional_field(CONF_PASSWORD, config): PASSWORD,
            optional_field(CONF_SSL_CERTFILE, config): TEXT,
            optional_field(CONF_SSL_KEYFILE, config): TEXT,
            optional_field(CONF_SSL_CAFILE, config): TEXT,
            optional_field(CONF_UPSTREAM_URL, config): TEXT,
        }
    )
    if not advanced:
        return vol.Schema(fields)
    fields.update(
        {
            # With a client CA: the security profile of chargers without their own (2 lets a
            # site add the CA and move its chargers to profile 3 one at a time).
            optional_field(CONF_SECURITY_PROFILE, config): select_field(SECURITY_PROFILES, CONF_SECURITY_PROFILE),
            # Local controller mode: the upstream's certificate (verified unless turned off),
            # the outage after which a repair issue appears, and Home Assistant's limit profiles.
            optional_field(CONF_UPSTREAM_CA_FILE, config): TEXT,
            optional_field(CONF_UPSTREAM_SKIP_VERIFY, config): selector.BooleanSelector(),
            optional_field(CONF_UPSTREAM_OUTAGE_MINUTES, config): vol.All(vol.Coerce(int), vol.Range(min=1, max=10080)),
            optional_field(CONF_LIMIT_PROFILE_ID, config): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=1_000_000_000)
            ),
            # A number box: an optional integer with a range under 256 is a slider with an
            # unlabelled "use this field" checkbox beside it in the frontend.
            optional_field(CONF_LIMIT_STACK_LEVEL, config): vol.All(
                selector.NumberSelector(
                    selector.NumberSelectorConfig(min=0, max=100, step=1, mode=selector.NumberSelectorMode.BOX)
                ),
                vol.Coerce(int),
            ),
            optional_field(CONF_METER_VALUE_SAMPLE_INTERVAL, config): vol.All(
                vol.Coerce(int), vol.Range(min=0, max=86400)
            ),
            optional_field(CONF_METER_VALUES_SAMPLED_DATA, config): TEXT,
            # Keep every charger's local authorization list equal to the id tags (local_list.py).
            optional_field(CONF_SYNC_LOCAL_LIST, config): selector.BooleanSelector(),
        }
    )
    return vol.Schema(fields)


# The options flow's Settings form in sections: (fields, collapsed). Only the form is nested:
# the stored options stay flat, and no section name is an option key. A field of no section
# (added later, say) goes into the last one.
SETTINGS_SECTIONS: dict[str, tuple[tuple[str, ...], bool]] = {
    "connection": ((CONF_HOST, CONF_PORT, CONF_HEARTBEAT_INTERVAL, CONF_UPSTREAM_URL), False),
    "policies": ((CONF_NEW_CHARGERS, CONF_UNKNOWN_ID_TAGS, CONF_REMOTE_ID_TAG, CONF_SYNC_LOCAL_LIST), False),
    "security": (
        (
            CONF_PASSWORD,
            CONF_SSL_CERTFILE,
            CONF_SSL_KEYFILE,
            CONF_SSL_CAFILE,
            CONF_SECURITY_PROFILE,
            CONF_UPSTREAM_CA_FILE,
            CONF_UPSTREAM_SKIP_VERIFY,
        ),
        True,
    ),
    "meter_values": ((CONF_METER_VALUE_SAMPLE_INTERVAL, CONF_METER_VALUES_SAMPLED_DATA), True),
    "advanced": ((CONF_LIMIT_PROFILE_ID, CONF_LIMIT_STACK_LEVEL, CONF_UPSTREAM_OUTAGE_MINUTES, CONF_DEBUG), True),
}
_FIELD_SECTIONS = {field: name for name, (fields, _) in SETTINGS_SECTIONS.items() for field in fields}
_LAST_SECTION = list(SETTINGS_SECTIONS)[-1]


def settings_section(field: str) -> str:
    """Return the section of the Settings form a field is shown in."""
    return _FIELD_SECTIONS.get(field, _LAST_SECTION)


def sectioned_schema(schema: vol.Schema, *, open_fields: Collection[str] = ()) -> vol.Schema:
    """Group a flat settings schema (defaults and suggested values kept) into the sections.

    A collapsed section with a field in `open_fields` (one with an error) is shown open.
    """
    grouped: dict[str, dict[Any, Any]] = {name: {} for name in SETTINGS_SECTIONS}
    for key, validator in schema.schema.items():
        grouped[settings_section(str(key))][key] = validator
    return vol.Schema(
        {
            vol.Required(name): section(
                vol.Schema(fields),
                {"collapsed": SETTINGS_SECTIONS[name][1] and not any(str(key) in open_fields for key in fields)},
            )
            for name, fields in grouped.items()
            if fields
        }
    )


def flatten_sections(user_input: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Return the Settings form's input (validated: one mapping per section) as flat settings."""
    return {key: value for part in user_input.values() for key, value in part.items()}


def section_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """Show field errors on their sections: the frontend shows a section's error, not its fields'."""
    shown: dict[str, str] = {}
    for field, error in errors.items():
        shown.setdefault(field if field == "base" else settings_section(field), error)
    return shown


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


async def _tls_errors(hass: HomeAssistant, user_input: dict[str, Any]) -> dict[str, str]:
    """Check the wss:// files (they exist and load together) and the security profile they allow."""
    errors: dict[str, str] = {}
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
    return errors


async def validate_settings(
    hass: HomeAssistant, user_input: dict[str, Any], *, own_entry: ConfigEntry | None = None
) -> dict[str, str]:
    """Check settings; return form errors by field."""
    errors: dict[str, str] = {}
    remote_id_tag = user_input.get(CONF_REMOTE_ID_TAG)
    if remote_id_tag is not None and not 0 < len(remote_id_tag) <= ID_TAG_MAX_LENGTH:
        errors[CONF_REMOTE_ID_TAG] = "id_tag_length"
    errors.update(await _tls_errors(hass, user_input))
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


def cleared_settings() -> dict[str, None]:
    """Return every optional setting (no default: absent or empty means "not used") as None."""
    return {str(key): None for key in settings_schema({}).schema if isinstance(key, vol.Optional)}


def clean_settings(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Drop optional text fields left empty (and certificate checks left on: the default)."""
    return {
        key: value
        for key, value in user_input.items()
        if value not in ("", None) and not (key == CONF_UPSTREAM_SKIP_VERIFY and value is False)
    }
