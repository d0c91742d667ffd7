"""A simulated charger that answers the central system's Core commands as a test tells it to."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ocpp.exceptions import InternalError
from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
from websockets.exceptions import ConnectionClosed

from .charger import SimCharger, now_iso

# answers[action]: a status to answer, "callerror" for a CALLERROR, "silent" to never answer.
CALLERROR = "callerror"
SILENT = "silent"


class ControlCharger(SimCharger):
    """Answers every Core command; RemoteStart/RemoteStop really start/stop a transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration: list[dict[str, Any]] = [
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,RemoteTrigger,SmartCharging"},
        ]
        self.transactions: dict[int, int] = {}  # transaction id -> connector id
        self.profiles: dict[tuple[int, str], dict[str, Any]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def _answer(self, action: str, default: str, **request: Any) -> str:
        self.received.append((action, request))
        answer = self.answers.get(action, default)
        if answer == CALLERROR:
            raise InternalError(description=f"{action} failed inside the charger")
        if answer == SILENT:
            await asyncio.sleep(3600)
        return str(answer)

    def _spawn(self, coro: Any) -> None:
        async def runner() -> None:
            # The test may end (and close the socket) before the charger's follow-up is sent.
            with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
                await coro

        task = asyncio.get_running_loop().create_task(runner())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **extra: Any) -> Any:
        status = await self._answer(
            "RemoteStartTransaction", "Accepted", id_tag=id_tag, connector_id=connector_id, **extra
        )
        return call_result.RemoteStartTransaction(status=status)

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> None:
        if self.answers.get("RemoteStartTransaction", "Accepted") == "Accepted":
            self._spawn(self._start(connector_id or 1, id_tag))

    async def _start(self, connector_id: int, id_tag: str) -> None:
        await self.status(connector_id, "Preparing")
        result = await self.start_transaction(connector_id, id_tag, 5000)
        self.transactions[result.transaction_id] = connector_id
        await self.status(connector_id, "Charging")

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int) -> Any:
        status = await self._answer("RemoteStopTransaction", "Accepted", transaction_id=transaction_id)
        if status == "Accepted" and transaction_id not in self.transactions:
            status = "Rejected"
        return call_result.RemoteStopTransaction(status=status)

    @after(Action.remote_stop_transaction)
    async def after_remote_stop(self, transaction_id: int) -> None:
        connector_id = self.transactions.pop(transaction_id, None)
        if connector_id is not None and self.answers.get("RemoteStopTransaction", "Accepted") == "Accepted":
            self._spawn(self._stop(transaction_id, connector_id))

    async def _stop(self, transaction_id: int, connector_id: int) -> None:
        await self.stop_transaction(transaction_id, 6000, reason="Remote")
        await self.status(connector_id, "Finishing")

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id: int) -> Any:
        return call_result.UnlockConnector(
            status=await self._answer("UnlockConnector", "Unlocked", connector_id=connector_id)
        )

    @on(Action.reset)
    async def on_reset(self, type: str) -> Any:
        return call_result.Reset(status=await self._answer("Reset", "Accepted", type=type))

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str) -> Any:
        status = await self._answer("ChangeAvailability", "Accepted", connector_id=connector_id, type=type)
        return call_result.ChangeAvailability(status=status)

    @after(Action.change_availability)
    async def after_change_availability(self, connector_id: int, type: str) -> None:
        if self.answers.get("ChangeAvailability", "Accepted") == "Accepted":
            status = "Available" if type == "Operative" else "Unavailable"
            self._spawn(self.status(connector_id, status))

    # Real chargers send integer booleans and long values: answer without the schema check.
    @on(Action.get_configuration, skip_schema_validation=True)
    async def on_get_configuration(self, key: list[str] | None = None) -> Any:
        await self._answer("GetConfiguration", "Accepted", key=key)
        if not key:
            return call_result.GetConfiguration(configuration_key=self.configuration)
        known = [item for item in self.configuration if item["key"] in key]
        unknown = [k for k in key if k not in {item["key"] for item in self.configuration}]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str) -> Any:
        status = await self._answer("ChangeConfiguration", "Accepted", key=key, value=value)
        return call_result.ChangeConfiguration(status=status)

    @on(Action.clear_cache)
    async def on_clear_cache(self) -> Any:
        return call_result.ClearCache(status=await self._answer("ClearCache", "Accepted"))

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, message_id: str | None = None, data: str | None = None) -> Any:
        status = await self._answer("DataTransfer", "Accepted", vendor_id=vendor_id, message_id=message_id, data=data)
        return call_result.DataTransfer(status=status, data=f"echo:{data}" if data else None)

    # --- Smart Charging -----------------------------------------------------------------

    units: tuple[str, ...] = ("A",)

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        status = await self._answer(
            "SetChargingProfile", "Accepted", connector_id=connector_id, profile=cs_charging_profiles
        )
        unit = cs_charging_profiles["charging_schedule"]["charging_rate_unit"]
        if status == "Accepted" and unit not in self.units:
            status = "Rejected"
        if status == "Accepted":
            self.profiles[(connector_id, cs_charging_profiles["charging_profile_purpose"])] = cs_charging_profiles
        return call_result.SetChargingProfile(status=status)

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **request: Any) -> Any:
        status = await self._answer("ClearChargingProfile", "Accepted", **request)
        found = bool(self.profiles)
        self.profiles.clear()
        return call_result.ClearChargingProfile(status=status if found else "Unknown")

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ) -> Any:
        status = await self._answer(
            "GetCompositeSchedule",
            "Accepted",
            connector_id=connector_id,
            duration=duration,
            charging_rate_unit=charging_rate_unit,
        )
        if charging_rate_unit is not None and charging_rate_unit not in self.units:
            # This charger cannot express its schedule in another unit.
            return call_result.GetCompositeSchedule(status="Rejected")
        limits = [
            profile["charging_schedule"]["charging_schedule_period"][0]["limit"]
            for (connector, _purpose), profile in self.profiles.items()
            if connector in (0, connector_id)
        ]
        if not limits:
            return call_result.GetCompositeSchedule(status=status, connector_id=connector_id)
        unit = charging_rate_unit or self.units[0]
        return call_result.GetCompositeSchedule(
            status=status,
            connector_id=connector_id,
            schedule_start=now_iso(),
            charging_schedule={
                "duration": duration,
                "start_schedule": now_iso(),
                "charging_rate_unit": unit,
                "charging_schedule_period": [{"start_period": 0, "limit": float(min(limits))}],
            },
        )

    # --- Local Auth List Management and Reservation ---------------------------------------

    # The charger's local authorization list (by id tag) and its version; reservations by id.
    local_list: dict[str, dict[str, Any]]
    list_version: int = 0
    reservations: dict[int, dict[str, Any]]

    @on(Action.send_local_list)
    async def on_send_local_list(
        self, list_version: int, update_type: str, local_authorization_list: list[dict[str, Any]] | None = None
    ) -> Any:
        entries = local_authorization_list or []
        status = await self._answer(
            "SendLocalList", "Accepted", list_version=list_version, update_type=update_type, entries=entries
        )
        if not hasattr(self, "local_list"):
            self.local_list = {}
        if status == "Accepted" and update_type == "Differential" and list_version <= self.list_version:
            status = "VersionMismatch"
        if status == "Accepted":
            if update_type == "Full":
                self.local_list = {}
            for entry in entries:
                if entry.get("id_tag_info"):
                    self.local_list[entry["id_tag"]] = entry["id_tag_info"]
                else:
                    self.local_list.pop(entry["id_tag"], None)
            self.list_version = list_version
        return call_result.SendLocalList(status=status)

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self) -> Any:
        self.received.append(("GetLocalListVersion", {}))
        answer = self.answers.get("GetLocalListVersion")
        if answer == CALLERROR:
            raise InternalError(description="GetLocalListVersion failed inside the charger")
        return call_result.GetLocalListVersion(list_version=self.list_version if answer is None else int(answer))

    @on(Action.reserve_now)
    async def on_reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, parent_id_tag: str | None = None
    ) -> Any:
        request = {
            "connector_id": connector_id, "expiry_date": expiry_date, "id_tag": id_tag,
            "reservation_id": reservation_id, "parent_id_tag": parent_id_tag,
        }
        status = await self._answer("ReserveNow", "Accepted", **request)
        if status == "Accepted":
            if not hasattr(self, "reservations"):
                self.reservations = {}
            self.reservations[reservation_id] = request
        return call_result.ReserveNow(status=status)

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int) -> Any:
        status = await self._answer("CancelReservation", "Accepted", reservation_id=reservation_id)
        known = getattr(self, "reservations", {})
        if status == "Accepted" and reservation_id not in known:
            status = "Rejected"
        known.pop(reservation_id, None)
        return call_result.CancelReservation(status=status)
