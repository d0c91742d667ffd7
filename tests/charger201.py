"""A simulated OCPP 2.0.1 charging station: an ocpp.v201.ChargePoint client over a real WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.asyncio.client import ClientConnection, connect

from .charger import now_iso


def sampled201(value: float, measurand: str | None = None, unit: str | None = None, **fields: Any) -> dict[str, Any]:
    """Return a 2.0.1 SampledValueType (unit and multiplier in unitOfMeasure)."""
    sampled: dict[str, Any] = {"value": value, **fields}
    if measurand is not None:
        sampled["measurand"] = measurand
    if unit is not None or "multiplier" in fields:
        sampled["unitOfMeasure"] = {"unit": unit or "Wh", "multiplier": sampled.pop("multiplier", 0)}
    return sampled


# Why the station refuses a variable it was told to refuse (SetVariables' attributeStatusInfo).
READ_ONLY = {"reason_code": "ReadOnly"}


class Sim201Charger(ChargePoint):
    """A 2.0.1 charging station that scenarios drive; it records what the CSMS asked of it."""

    def __init__(self, charge_point_id: str, connection: ClientConnection) -> None:
        super().__init__(charge_point_id, connection, response_timeout=10)
        self.connection = connection
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, Any] = {}
        self.seq_no = 0
        # The device model its NotifyReport sends after GetBaseReport (ReportDataType dicts).
        self.device_model: list[dict[str, Any]] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.local_list_version = 0

    async def raw(self, frame: str) -> Any:
        """Send a raw frame and return the next CALLRESULT/CALLERROR the CSMS sends back."""
        await self._connection.send(frame)
        return await asyncio.wait_for(self._response_queue.get(), 5)

    async def send(self, payload: Any) -> Any:
        """Send a request; raise on CALLERROR."""
        return await self.call(payload, suppress=False)

    async def boot(self, reason: str = "PowerUp", **station: Any) -> call_result.BootNotification:
        station.setdefault("vendor_name", "Sim201")
        station.setdefault("model", "Sim-201")
        return await self.send(call.BootNotification(charging_station=station, reason=reason))

    async def status(
        self, evse_id: int, connector_status: str, connector_id: int = 1, timestamp: str | None = None
    ) -> None:
        await self.send(
            call.StatusNotification(
                timestamp=timestamp or now_iso(), connector_status=connector_status, evse_id=evse_id,
                connector_id=connector_id,
            )
        )

    async def heartbeat(self) -> call_result.Heartbeat:
        return await self.send(call.Heartbeat())

    async def authorize(self, id_token: str, token_type: str = "ISO14443") -> call_result.Authorize:
        return await self.send(call.Authorize(id_token={"id_token": id_token, "type": token_type}))

    async def transaction_event(
        self,
        event_type: str,
        transaction_id: str,
        trigger_reason: str,
        *,
        evse_id: int = 1,
        seq_no: int | None = None,
        timestamp: str | None = None,
        id_token: str | None = None,
        meter_value: list[dict[str, Any]] | None = None,
        **info: Any,
    ) -> call_result.TransactionEvent:
        """Send a TransactionEvent; seqNo counts up unless given (a replay repeats one)."""
        if seq_no is None:
            seq_no = self.seq_no
            self.seq_no += 1
        offline = info.pop("offline", None)
        return await self.send(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=timestamp or now_iso(),
                trigger_reason=trigger_reason,
                seq_no=seq_no,
                transaction_info={"transaction_id": transaction_id, **info},
                meter_value=meter_value,
                offline=offline,
                evse={"id": evse_id, "connector_id": 1},
                id_token={"id_token": id_token, "type": "ISO14443"} if id_token else None,
            )
        )

    async def meter(self, evse_id: int, sampled: list[dict[str, Any]], timestamp: str | None = None) -> None:
        meter_value = [{"timestamp": timestamp or now_iso(), "sampled_value": sampled}]
        await self.send(call.MeterValues(evse_id=evse_id, meter_value=meter_value))

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str) -> Any:
        self.received.append(("GetBaseReport", {"request_id": request_id, "report_base": report_base}))
        return call_result.GetBaseReport(status=self.answers.get("GetBaseReport", "Accepted"))

    @after(Action.get_base_report)
    def after_get_base_report(self, request_id: int, report_base: str) -> None:
        if self.answers.get("GetBaseReport", "Accepted") != "Accepted":
            return
        # In two parts (tbc), as stations with large device models do.
        half = len(self.device_model) // 2
        parts = [self.device_model[:half], self.device_model[half:]]

        async def report() -> None:
            for seq_no, part in enumerate(parts):
                await self.send(call.NotifyReport(
                    request_id=request_id, generated_at=now_iso(), seq_no=seq_no, report_data=part or None,
                    tbc=seq_no < len(parts) - 1,
                ))

        self.tasks.append(asyncio.get_running_loop().create_task(report()))

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]]) -> Any:
        self.received.append(("SetVariables", {"set_variable_data": set_variable_data}))
        refused = self.answers.get("SetVariables", ())
        # A variable named in answers["SetVariablesStatus"] gets that status (RebootRequired, ...).
        statuses = self.answers.get("SetVariablesStatus", {})
        return call_result.SetVariables(set_variable_result=[
            {
                "attribute_status": statuses.get(
                    item["variable"]["name"], "Rejected" if item["variable"]["name"] in refused else "Accepted"
                ),
                "component": item["component"],
                "variable": item["variable"],
                **({"attribute_status_info": READ_ONLY} if item["variable"]["name"] in refused else {}),
            }
            for item in set_variable_data
        ])

    def _variable(self, component: dict[str, Any], variable: dict[str, Any]) -> dict[str, Any] | None:
        """Return the device model entry of a component (with its EVSE and instance) and variable."""
        for item in self.device_model:
            if item["component"] == component and item["variable"] == variable:
                return item
        return None

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        self.received.append(("GetVariables", {"get_variable_data": get_variable_data}))
        results = []
        for item in get_variable_data:
            component, variable = item["component"], item["variable"]
            attribute_type = item.get("attribute_type", "Actual")
            result: dict[str, Any] = {"component": component, "variable": variable, "attribute_type": attribute_type}
            found = self._variable(component, variable)
            attribute = next(
                (a for a in (found or {}).get("variable_attribute", ()) if a.get("type", "Actual") == attribute_type),
                None,
            )
            if found is None:
                known = any(entry["component"]["name"] == component["name"] for entry in self.device_model)
                result["attribute_status"] = "UnknownVariable" if known else "UnknownComponent"
            elif attribute is None:
                result["attribute_status"] = "NotSupportedAttributeType"
            else:
                result["attribute_status"] = "Accepted"
                result["attribute_value"] = attribute["value"]
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, message_id: str | None = None, data: Any = None) -> Any:
        self.received.append(("DataTransfer", {"vendor_id": vendor_id, "message_id": message_id, "data": data}))
        if vendor_id != "acme":
            return call_result.DataTransfer(status="UnknownVendorId")
        return call_result.DataTransfer(status="Accepted", data=f"echo:{data}")

    # Management requests: recorded as received, answered with answers[action] (default Accepted).

    @on(Action.update_firmware)
    def on_update_firmware(self, **request: Any) -> Any:
        self.received.append(("UpdateFirmware", request))
        return call_result.UpdateFirmware(status=self.answers.get("UpdateFirmware", "Accepted"))

    @on(Action.get_log)
    def on_get_log(self, **request: Any) -> Any:
        self.received.append(("GetLog", request))
        status = self.answers.get("GetLog", "Accepted")
        filename = f"{request['log_type']}.zip" if status == "Accepted" else None
        return call_result.GetLog(status=status, filename=filename)

    @on(Action.install_certificate)
    def on_install_certificate(self, **request: Any) -> Any:
        self.received.append(("InstallCertificate", request))
        return call_result.InstallCertificate(status=self.answers.get("InstallCertificate", "Accepted"))

    @on(Action.certificate_signed)
    def on_certificate_signed(self, **request: Any) -> Any:
        self.received.append(("CertificateSigned", request))
        return call_result.CertificateSigned(status=self.answers.get("CertificateSigned", "Accepted"))

    @on(Action.delete_certificate)
    def on_delete_certificate(self, **request: Any) -> Any:
        self.received.append(("DeleteCertificate", request))
        return call_result.DeleteCertificate(status=self.answers.get("DeleteCertificate", "Accepted"))

    @on(Action.get_installed_certificate_ids)
    def on_get_installed_certificate_ids(self, **request: Any) -> Any:
        self.received.append(("GetInstalledCertificateIds", request))
        chains = self.answers.get("GetInstalledCertificateIds", [])
        return call_result.GetInstalledCertificateIds(
            status="Accepted" if chains else "NotFound", certificate_hash_data_chain=chains or None
        )

    @on(Action.reserve_now)
    def on_reserve_now(self, **request: Any) -> Any:
        self.received.append(("ReserveNow", request))
        return call_result.ReserveNow(status=self.answers.get("ReserveNow", "Accepted"))

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, **request: Any) -> Any:
        self.received.append(("CancelReservation", request))
        return call_result.CancelReservation(status=self.answers.get("CancelReservation", "Accepted"))

    @on(Action.send_local_list)
    def on_send_local_list(self, **request: Any) -> Any:
        self.received.append(("SendLocalList", request))
        status = self.answers.get("SendLocalList", "Accepted")
        if status == "Accepted":
            self.local_list_version = request["version_number"]
        return call_result.SendLocalList(status=status)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self) -> Any:
        self.received.append(("GetLocalListVersion", {}))
        return call_result.GetLocalListVersion(version_number=self.local_list_version)

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, evse: dict[str, Any] | None = None) -> Any:
        self.received.append(("TriggerMessage", {"requested_message": requested_message, "evse": evse}))
        return call_result.TriggerMessage(status=self.answers.get("TriggerMessage", "Accepted"))

    def record(self, action: str, **payload: Any) -> str:
        """Remember a request (its fields as the station received them) and return the status to answer."""
        self.received.append((action, {key: value for key, value in payload.items() if value is not None}))
        return str(self.answers.get(action, "Accepted"))

    @on(Action.request_start_transaction)
    def on_request_start_transaction(self, **payload: Any) -> Any:
        status = self.record("RequestStartTransaction", **payload)
        return call_result.RequestStartTransaction(status=status, transaction_id=self.answers.get("transaction_id"))

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, **payload: Any) -> Any:
        return call_result.RequestStopTransaction(status=self.record("RequestStopTransaction", **payload))

    @on(Action.unlock_connector)
    def on_unlock_connector(self, **payload: Any) -> Any:
        self.answers.setdefault("UnlockConnector", "Unlocked")
        return call_result.UnlockConnector(status=self.record("UnlockConnector", **payload))

    @on(Action.reset)
    def on_reset(self, **payload: Any) -> Any:
        return call_result.Reset(status=self.record("Reset", **payload))

    @on(Action.change_availability)
    def on_change_availability(self, **payload: Any) -> Any:
        return call_result.ChangeAvailability(status=self.record("ChangeAvailability", **payload))

    @on(Action.clear_cache)
    def on_clear_cache(self, **payload: Any) -> Any:
        return call_result.ClearCache(status=self.record("ClearCache", **payload))

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, **payload: Any) -> Any:
        return call_result.SetChargingProfile(status=self.record("SetChargingProfile", **payload))

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **payload: Any) -> Any:
        return call_result.ClearChargingProfile(status=self.record("ClearChargingProfile", **payload))

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, **payload: Any) -> Any:
        status = self.record("GetCompositeSchedule", **payload)
        return call_result.GetCompositeSchedule(status=status, schedule=self.answers.get("schedule"))


@contextlib.asynccontextmanager
async def charger201(
    port: int,
    charge_point_id: str,
    *,
    subprotocols: list[str] | None = None,
    cls: type[Sim201Charger] = Sim201Charger,
    **connect_kwargs: Any,
) -> AsyncIterator[Sim201Charger]:
    """Connect a simulated 2.0.1 charging station to 127.0.0.1:port and run its receive loop."""
    async with connect(
        f"ws://127.0.0.1:{port}/ocpp/{charge_point_id}",
        subprotocols=["ocpp2.0.1"] if subprotocols is None else subprotocols,  # type: ignore[arg-type]
        open_timeout=5,
        **connect_kwargs,
    ) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        sim = cls(charge_point_id, ws)
        task = asyncio.get_running_loop().create_task(sim.start())
        try:
            yield sim
        finally:
            for item in (task, *sim.tasks):
                item.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await item
