"""After an OCPP 2.0.1 station's accepted boot: its device model read, the entry's options set, statuses asked for.

The 2.0.1 counterpart of boot.py's configuration read (B07 GetBaseReport ConfigurationInventory:
the station answers with NotifyReport messages, kept as its configuration by the engine) and
of its MeterValue options (B05 SetVariables on OCPPCommCtrlr and SampledDataCtrlr).
"""

from __future__ import annotations

import asyncio
import logging

from homeassistant.exceptions import HomeAssistantError
from ocpp.v201 import call

from . import commands
from .engine.configuration import ConfigurationValue
from .engine.session import V201Session
from .engine.v201.device_model_requests import REQUEST_IDS
from .ports import Hub

_LOGGER = logging.getLogger(__name__)

# Seconds a station has to send its whole device model before the options are set regardless.
REPORT_SECONDS = 30.0
# The 1.6 MeterValue options (hub.meter_value_settings) as 2.0.1 device model variables.
_SAMPLED_DATA_VARIABLES = {
    "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval"),
    "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands"),
}


async def after_accepted_boot(hub: Hub, session: V201Session) -> None:
    """After an accepted BootNotification: read the device model, set the options, ask for statuses."""
    await read_device_model(hub, session)
    await apply_options(hub, session.id)
    if not session.status_seen:
        try:
            await commands.async_call(hub, session.id, call.TriggerMessage(requested_message="StatusNotification"))
        except HomeAssistantError as err:
            _LOGGER.debug("%s: TriggerMessage StatusNotification failed: %s", session.id, err)


async def ask_to_boot(hub: Hub, session: V201Session) -> None:
    """Ask a station that connected without booting to send BootNotification (F06)."""
    try:
        await commands.async_call(hub, session.id, call.TriggerMessage(requested_message="BootNotification"))
    except HomeAssistantError as err:
        _LOGGER.debug("%s: TriggerMessage BootNotification failed: %s", session.id, err)


async def read_device_model(hub: Hub, session: V201Session) -> None:
    """Read the station's whole configuration (GetBaseReport ConfigurationInventory, then its NotifyReports)."""
    request_id = next(REQUEST_IDS)
    complete = session.expect_report(request_id)
    try:
        result = await commands.async_call(
            hub, session.id, call.GetBaseReport(request_id=request_id, report_base="ConfigurationInventory")
        )
    except HomeAssistantError as err:
        _LOGGER.warning("%s: could not read the device model: %s", session.id, err)
        return
    if result.status != "Accepted":
        _LOGGER.info("%s: GetBaseReport answered %s", session.id, result.status)
        return
    # The options are compared with the device model: wait for the report (bounded).
    waiting = asyncio.ensure_future(complete.wait())
    try:
        await session.wait_unless_ended(waiting, REPORT_SECONDS)
    finally:
        waiting.cancel()


async def apply_options(hub: Hub, charge_point_id: str) -> None:
    """Set the heartbeat and sampling the entry's options ask for (SetVariables); refusals are logged."""
    wanted: dict[tuple[str, str], str] = {
        ("OCPPCommCtrlr", "HeartbeatInterval"): str(hub.central.settings.heartbeat_interval)
    }
    for key, value in hub.meter_value_settings().items():
        wanted[_SAMPLED_DATA_VARIABLES[key]] = value
    charger = hub.central.chargers.get(charge_point_id)
    if charger is not None:
        # Nothing to send for what the station reported already (its device model, read above).
        wanted = {k: v for k, v in wanted.items() if charger.config_value(f"{k[0]}/{k[1]}") != v}
    if not wanted:
        return
    data = [
        {"attribute_value": value, "component": {"name": component}, "variable": {"name": variable}}
        for (component, variable), value in wanted.items()
    ]
    try:
        result = await commands.async_call(hub, charge_point_id, call.SetVariables(set_variable_data=data))
    except HomeAssistantError as err:
        _LOGGER.warning("%s: could not set %s: %s", charge_point_id, ", ".join(v for _, v in wanted), err)
        return
    accepted: dict[str, ConfigurationValue] = {}
    for item in result.set_variable_result:
        name = f"{item['component']['name']}/{item['variable']['name']}"
        if item["attribute_status"] == "Accepted":
            accepted[name] = ConfigurationValue(value=wanted[(item["component"]["name"], item["variable"]["name"])],
                                                readonly=False)
        else:
            # Some stations refuse one or both; that must not stop anything else.
            _LOGGER.warning("%s: %s was not set: %s", charge_point_id, name, item["attribute_status"])
    hub.central.update_configuration(charge_point_id, accepted)
