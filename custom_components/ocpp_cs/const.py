"""Constants of the ocpp_cs integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "ocpp_cs"

CONF_NEW_CHARGERS: Final = "new_chargers"
CONF_UNKNOWN_ID_TAGS: Final = "unknown_id_tags"
CONF_REMOTE_ID_TAG: Final = "remote_id_tag"
CONF_SSL_CERTFILE: Final = "ssl_certfile"
CONF_SSL_KEYFILE: Final = "ssl_keyfile"
# Security profile 3: the CA that signs the chargers' client certificates (mTLS).
CONF_SSL_CAFILE: Final = "ssl_cafile"
# With a client CA: the security profile (2 or 3) of chargers that have none of their own.
CONF_SECURITY_PROFILE: Final = "security_profile"
CONF_HEARTBEAT_INTERVAL: Final = "heartbeat_interval"
CONF_UPSTREAM_URL: Final = "upstream_url"
CONF_METER_VALUE_SAMPLE_INTERVAL: Final = "meter_value_sample_interval"
CONF_METER_VALUES_SAMPLED_DATA: Final = "meter_values_sampled_data"
# Local controller mode (upstream_url): the upstream's TLS, the outage repair issue, and the
# profile id and stack level of Home Assistant's own limits (to combine with the upstream's).
CONF_UPSTREAM_CA_FILE: Final = "upstream_ca_file"
CONF_UPSTREAM_SKIP_VERIFY: Final = "upstream_skip_verify"
CONF_UPSTREAM_OUTAGE_MINUTES: Final = "upstream_outage_minutes"
CONF_LIMIT_PROFILE_ID: Final = "limit_profile_id"
CONF_LIMIT_STACK_LEVEL: Final = "limit_stack_level"
CONF_DEBUG: Final = "debug"
CONF_SYNC_LOCAL_LIST: Final = "sync_local_list"

DEFAULT_HOST: Final = "0.0.0.0"
DEFAULT_PORT: Final = 9000
DEFAULT_NEW_CHARGERS: Final = "accept"
DEFAULT_UNKNOWN_ID_TAGS: Final = "accept"
DEFAULT_REMOTE_ID_TAG: Final = "HomeAssistant"
DEFAULT_HEARTBEAT_INTERVAL: Final = 300
DEFAULT_UPSTREAM_OUTAGE_MINUTES: Final = 15

NEW_CHARGERS_OPTIONS: Final = ["accept", "pending", "reject"]
UNKNOWN_ID_TAGS_OPTIONS: Final = ["accept", "reject"]

# Options that need the server to be restarted when they change.
SERVER_OPTIONS: Final = (
    "host", "port", "password", CONF_SSL_CERTFILE, CONF_SSL_KEYFILE, CONF_SSL_CAFILE,
    CONF_UPSTREAM_URL, CONF_UPSTREAM_CA_FILE, CONF_UPSTREAM_SKIP_VERIFY,
)

EVENT_TRANSACTION_STARTED: Final = f"{DOMAIN}_transaction_started"
EVENT_TRANSACTION_STOPPED: Final = f"{DOMAIN}_transaction_stopped"
EVENT_ID_TAG_PRESENTED: Final = f"{DOMAIN}_id_tag_presented"
EVENT_DATA_TRANSFER: Final = f"{DOMAIN}_data_transfer"
EVENT_CHARGER_CONNECTED: Final = f"{DOMAIN}_charger_connected"
EVENT_CHARGER_BOOTED: Final = f"{DOMAIN}_charger_booted"
EVENT_CHARGER_DISCONNECTED: Final = f"{DOMAIN}_charger_disconnected"
EVENT_SECURITY_EVENT: Final = f"{DOMAIN}_security_event"
EVENT_SIGN_CERTIFICATE: Final = f"{DOMAIN}_sign_certificate"

STORAGE_VERSION: Final = 1
STORAGE_SAVE_DELAY: Final = 2.0

# WebSocket keep-alive: a dead connection is noticed within about a minute.
PING_INTERVAL: Final = 30.0
PING_TIMEOUT: Final = 30.0
RESPONSE_TIMEOUT: Final = 30.0

# Site energy management (issue 16): the options' Site step (site.py, engine/site).
CONF_MAIN_FUSE_CURRENT: Final = "main_fuse_current"
CONF_SITE_PHASES: Final = "site_phases"
CONF_GRID_CURRENT_ENTITIES: Final = "grid_current_entities"
CONF_GRID_POWER_ENTITY: Final = "grid_power_entity"
CONF_FALLBACK_CURRENT: Final = "fallback_current"
CONF_SOLAR_START_DELAY: Final = "solar_start_delay"
CONF_SOLAR_STOP_DELAY: Final = "solar_stop_delay"
DEFAULT_SITE_PHASES: Final = 3
DEFAULT_FALLBACK_CURRENT: Final = 6.0
DEFAULT_SOLAR_START_DELAY: Final = 60
DEFAULT_SOLAR_STOP_DELAY: Final = 300
# Costs and plans (issue 18): the options' Prices step (costs.py, engine/costs).
CONF_PRICE_ENTITY: Final = "price_entity"
CONF_FIXED_PRICE: Final = "fixed_price"
CONF_SESSION_FEE: Final = "session_fee"
PRICE_OPTIONS: Final = (CONF_PRICE_ENTITY, CONF_FIXED_PRICE, CONF_SESSION_FEE)
SITE_OPTIONS: Final = (
    CONF_MAIN_FUSE_CURRENT, CONF_SITE_PHASES, CONF_GRID_CURRENT_ENTITIES, CONF_GRID_POWER_ENTITY,
    CONF_FALLBACK_CURRENT, CONF_SOLAR_START_DELAY, CONF_SOLAR_STOP_DELAY,
)
