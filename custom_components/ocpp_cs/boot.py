"""What happens when a charger connects and boots: read its configuration, apply options, ask for statuses."""

from __future__ import annotations

import asyncio
import logging

from homeassistant.exceptions import HomeAssistantError
from ocpp.v16.enums import MessageTrigger

from . import boot201, commands
from .engine.configuration import STANDARD_KEYS
from .engine.relay import RelaySession
from .engine.session import AnySession, V201Session
from .ports import Hub
from .smart_charging import LimitController

_LOGGER = logging.getLogger(__name__)



async def read_all_configuration(hub: Hub, charge_point_id: str) -> None:
    """Read every key; fall back to the standard keys in chunks of GetConfigurationMaxKeys."""
    try:
        answer = await commands.get_configuration(hub, charge_point_id)
    except HomeAssistantError as err:
        _LOGGER.info("%s: reading the configuration failed: %s", charge_point_id, err)
        return
    if answer["configuration_key"]:
        return
    charger = hub.central.chargers.get(charge_point_id)
    chunk = (charger.config_int("GetConfigurationMaxKeys") if charger else None) or 10
    for start in range(0, len(STANDARD_KEYS), chunk):
        try:
            await commands.get_configuration(hub, charge_point_id, list(STANDARD_KEYS[start : start + chunk]))
        except HomeAssistantError as err:
            _LOGGER.info("%s: reading configuration keys failed: %s", charge_point_id, err)
            return


async def apply_meter_value_options(hub: Hub, charge_point_id: str) -> None:
    """Set MeterValueSampleInterval / MeterValuesSampledData when the user configured them."""
    for key, wanted in hub.meter_value_settings().items():
        charger = hub.central.chargers.get(charge_point_id)
        minimum = charger.quirks.min_meter_interval if charger is not None else None
        value = wanted
        if key == "MeterValueSampleInterval" and minimum is not None and 0 < int(wanted) < minimum:
            value = str(minimum)  # the lowest it takes (quirk profile)
        if charger is not None and charger.config_value(key) == value:
            continue
        try:
            await commands.change_configuration(hub, charge_point_id, key, value)
        except HomeAssistantError as err:
            # Some chargers refuse one or both; that must not stop anything else.
            _LOGGER.warning("%s: could not set %s to %s: %s", charge_point_id, key, value, err)


async def after_accepted_boot(hub: Hub, limits: LimitController, session: AnySession) -> None:
    """After BootNotification: read the configuration, apply options, ask for statuses."""
    charge_point_id = session.id
    if isinstance(session, V201Session):
        await boot201.after_accepted_boot(hub, session)
    else:
        await read_all_configuration(hub, charge_point_id)
        limits.configuration_read(charge_point_id)
        await apply_meter_value_options(hub, charge_point_id)
        if not session.status_seen:
            # Chargers report their statuses after booting; ask only the ones that did not.
            await _trigger_statuses(hub, charge_point_id)
    # A station may lose volatile profiles on reboot, whatever its OCPP version.
    await limits.async_resend(charge_point_id)


async def _trigger_statuses(hub: Hub, charge_point_id: str) -> None:
    charger = hub.central.chargers.get(charge_point_id)
    if charger is not None and not charger.supports("RemoteTrigger"):
        return
    try:
        await commands.trigger_message(hub, charge_point_id, MessageTrigger.status_notification)
    except HomeAssistantError as err:
        _LOGGER.debug("%s: TriggerMessage StatusNotification failed: %s", charge_point_id, err)


async def on_connected(hub: Hub, limits: LimitController, session: AnySession) -> None:
    """A charger connected: if it does not boot within a few seconds, ask it to.

    After Home Assistant restarts, chargers reconnect without booting; asking for
    BootNotification (or, for one we know, statuses) makes the entities right at once.
    """
    await asyncio.sleep(hub.boot_grace_seconds)
    if session.booted or hub.central.sessions.get(session.id) is not session:
        return
    if isinstance(session, V201Session):
        await boot201.ask_to_boot(hub, session)
        return
    charge_point_id = session.id
    if isinstance(session, RelaySession) and charge_point_id in hub.central.chargers:
        # A relayed charger's BootNotification would reach the upstream as a reboot: statuses only.
        if hub.central.is_accepted(charge_point_id):
            await _trigger_statuses(hub, charge_point_id)
            await limits.async_resend(charge_point_id)
        return
    try:
        await commands.trigger_message(hub, charge_point_id, MessageTrigger.boot_notification)
        return
    except HomeAssistantError as err:
        _LOGGER.debug("%s: TriggerMessage BootNotification failed: %s", charge_point_id, err)
    if hub.central.is_accepted(charge_point_id):
        await _trigger_statuses(hub, charge_point_id)
        await limits.async_resend(charge_point_id)
