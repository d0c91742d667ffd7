"""Constants of the ocpp_cs integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "ocpp_cs"

CONF_NEW_CHARGERS: Final = "new_chargers"
CONF_UNKNOWN_ID_TAGS: Final = "unknown_id_tags"
CONF_REMOTE_ID_TAG: Final = "remote_id_tag"
CONF_SSL_CERTFILE: Final = "ssl_certfile"
CONF_SSL_KEYFILE: Final = "ssl_keyfile"
CONF_HEARTBEAT_INTERVAL: Final = "heartbeat_interval"
CONF_UPSTREAM_URL: Final = "upstream_url"
CONF_METER_VALUE_SAMPLE_INTERVAL: Final = "meter_value_sample_interval"
CONF_METER_VALUES_SAMPLED_DATA: Final = "meter_values_sampled_data"

DEFAULT_HOST: Final = "0.0.0.0"
DEFAULT_PORT: Final = 9000
DEFAULT_NEW_CHARGERS: Final = "accept"
DEFAULT_UNKNOWN_ID_TAGS: Final = "accept"
DEFAULT_REMOTE_ID_TAG: Final = "HomeAssistant"
DEFAULT_HEARTBEAT_INTERVAL: Final = 300

NEW_CHARGERS_OPTIONS: Final = ["accept", "pending", "reject"]
UNKNOWN_ID_TAGS_OPTIONS: Final = ["accept", "reject"]

# Options that need the server to be restarted when they change.
SERVER_OPTIONS: Final = ("host", "port", "password", CONF_SSL_CERTFILE, CONF_SSL_KEYFILE)

EVENT_TRANSACTION_STARTED: Final = f"{DOMAIN}_transaction_started"
EVENT_TRANSACTION_STOPPED: Final = f"{DOMAIN}_transaction_stopped"
EVENT_ID_TAG_PRESENTED: Final = f"{DOMAIN}_id_tag_presented"
EVENT_DATA_TRANSFER: Final = f"{DOMAIN}_data_transfer"

STORAGE_VERSION: Final = 1
STORAGE_SAVE_DELAY: Final = 2.0

# WebSocket keep-alive: a dead connection is noticed within about a minute.
PING_INTERVAL: Final = 30.0
PING_TIMEOUT: Final = 30.0
RESPONSE_TIMEOUT: Final = 30.0
