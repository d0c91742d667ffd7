"""Diagnostics downloads for an entry and for a charger (passwords redacted)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry

from . import security
from .const import DOMAIN
from .engine.quirks import detect
from .ports import Hub
from .runtime import OcppConfigEntry, OcppRuntime

# `AuthorizationKey` is the charger's configuration key (security profiles 1-2): some
# chargers report it in GetConfiguration although the spec says they should not.
TO_REDACT = {CONF_PASSWORD, "previous_password", "upstream_password", "authorization_key", "AuthorizationKey"}


def _hub(entry: OcppConfigEntry) -> Hub | None:
    """Return the entry's hub; None when the entry is not loaded (diagnostics may be asked anyway)."""
    runtime = getattr(entry, "runtime_data", None)
    return runtime.hub if isinstance(runtime, OcppRuntime) else None


def _charger_diagnostics(entry: OcppConfigEntry, charge_point_id: str) -> dict[str, Any]:
    runtime = entry.runtime_data
    hub = runtime.hub
    charger = hub.central.chargers[charge_point_id]
    data = charger.to_dict()
    data["connected"] = charger.connected
    # Which known behaviours are handled for it (engine/quirk_table.py): chosen, detected, in force.
    detected = detect(charger.boot.vendor, charger.boot.model, charger.boot.firmware_version)
    in_force = charger.quirk_profile_in_force()
    data["quirks"] = {
        "choice": charger.quirk_profile,
        "detected": detected.name if detected is not None else None,
        "in_force": in_force.name if in_force is not None else None,
        "changed": list(charger.quirks.changed()),
    }
    data["registration"] = hub.central.registration_status(charge_point_id)
    data["open_transactions"] = [
        t.to_dict() for t in hub.central.open_transactions.values() if t.charge_point_id == charge_point_id
    ]
    data["reservations"] = [
        r.to_dict() for r in hub.central.auth.reservations.values() if r.charge_point_id == charge_point_id
    ]
    local_list = hub.central.auth.local_lists.get(charge_point_id)
    data["local_list"] = {"version": local_list.version, "entries": len(local_list.entries)} if local_list else None
    # Local controller mode: transactions under the upstream's ids, and the upstream connection.
    data["observed_transactions"] = [
        t.to_dict() for (cp_id, _), t in hub.central.observed_transactions.items() if cp_id == charge_point_id
    ]
    upstream = runtime.local_controller.status(charge_point_id)
    if upstream is not None:
        data["upstream"] = {
            "connected": upstream.connected,
            "outage": upstream.outage_since is not None,
            "last_failure": str(upstream.last_failure) if upstream.last_failure else None,
        }
    session = hub.central.sessions.get(charge_point_id)
    if session is not None:
        connection = session.connection
        data["connection"] = {
            "remote_address": str(getattr(connection, "remote_address", None)),
            "subprotocol": getattr(connection, "subprotocol", None),
        }
    return async_redact_data(data, TO_REDACT)


def _message_log(hub: Hub, charge_point_id: str) -> list[dict[str, Any]]:
    """Return a charger's last frames and connection events, secrets redacted (engine/message_log.py)."""
    log = hub.central.message_logs.get(charge_point_id)
    return log.entries() if log is not None else []


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: OcppConfigEntry) -> dict[str, Any]:
    """Return the entry's settings and the state of every charger."""
    settings = async_redact_data({**entry.data, **entry.options}, TO_REDACT)
    hub = _hub(entry)
    if hub is None:
        # Not running (e.g. waiting for its port): the settings are what helps most.
        return {"entry": settings, "state": entry.state.value, "reason": entry.reason}
    return {
        "entry": settings,
        "state": entry.state.value,
        "next_transaction_id": hub.central.next_transaction_id,
        "rejected_handshakes": hub.server.rejected_handshakes if hub.server else 0,
        **security.server_diagnostics(hub),
        "id_tags": len(hub.central.id_tags),
        "site": entry.runtime_data.site.diagnostics(),
        "chargers": {cp_id: _charger_diagnostics(entry, cp_id) for cp_id in hub.central.chargers},
        # Chargers without a device (pending, rejected, refused): their frames show why.
        "message_logs_without_device": {
            cp_id: _message_log(hub, cp_id)
            for cp_id in hub.central.message_logs
            if not (cp_id in hub.central.chargers and hub.central.chargers[cp_id].accepted)
        },
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: OcppConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """Return the state of the charger behind a device."""
    hub = _hub(entry)
    if hub is None:
        return {"state": entry.state.value}
    for domain, identifier in device.identifiers:
        if domain != DOMAIN:
            continue
        if identifier in hub.central.chargers:
            return {
                **_charger_diagnostics(entry, identifier),
                **await security.async_charger_diagnostics(hass, hub, identifier),
                "message_log": _message_log(hub, identifier),
            }
        # A connector's own device: `<charge point id>_<connector id>`.
        charge_point_id, _, connector = identifier.rpartition("_")
        if charge_point_id in hub.central.chargers and connector.isdigit():
            return {
                "connector_id": int(connector),
                **_charger_diagnostics(entry, charge_point_id),
                "message_log": _message_log(hub, charge_point_id),
            }
    return {}
