"""
The 2.0.1 form of our commands: a 1.6 request turned into its 2.0.1 equivalent, and the answer back.

The commands, the limit controller and the site controller decide once, in 1.6 terms (a
connector, a profile with one schedule); for a 2.0.1 station `to_v201` builds the request the
2.0.1 spec defines for the same intent (connector n is EVSE n, whose connector 1 we address),
and `from_v201` gives back the answer in the shape the 1.6 path reads. Most answers keep their
2.0.1 form: they carry the same `status`, and `status_info` (or a RequestStartTransaction's
`transaction_id`) is what 2.0.1 says more.

An action missing from the table is sent unchanged and refused by the session
(`WrongOcppVersion`): nothing goes out that the station could misread.
"""

from __future__ import annotations

from collections.abc import Callable
import itertools
import time
from typing import Any

from ocpp.charge_point import camel_to_snake_case
from ocpp.v16 import call as call16, call_result as call_result16
from ocpp.v201 import call

# 1.6 names whose 2.0.1 spelling differs (chargingProfilePurpose, requestedMessage).
PURPOSES = {"ChargePointMaxProfile": "ChargingStationMaxProfile"}
# IdTokenEnumType: what an id token is (a remote start's is Central unless the action says).
# What only 2.0.1 stations can be asked for (commands refuse them for 1.6 chargers).
V201_TRIGGERS = ("TransactionEvent",)
TRIGGERS = {
    "DiagnosticsStatusNotification": "LogStatusNotification",
    "SignChargePointCertificate": "SignChargingStationCertificate",
}

# RequestStartTransaction's remoteStartId only pairs the request with the TransactionEvent it
# causes; counting from the clock keeps ids of a restarted Home Assistant apart from earlier ones.
_remote_start_ids = itertools.count(int(time.time()) % 1_000_000_000)


def evse(connector_id: int | None) -> dict[str, int] | None:
    """Return the EVSEType of a 1.6 connector id (None or 0 is the whole station)."""
    return {"id": connector_id} if connector_id else None


def charging_profile(profile: dict[str, Any], *, in_request: bool = False) -> dict[str, Any]:
    """Return a 1.6 ChargingProfile (snake_case) as a 2.0.1 ChargingProfileType.

    The one schedule becomes a list of one with the profile's id; a TxProfile's transaction id is
    the station's string. In a RequestStartTransaction the transaction does not exist yet, so the
    profile names none (K05). An action's profile may come in camelCase: read as snake_case.
    """
    profile = camel_to_snake_case(profile)
    converted: dict[str, Any] = {
        key: value
        for key, value in profile.items()
        if key not in ("charging_profile_id", "charging_schedule", "transaction_id") and value is not None
    }
    converted["id"] = profile["charging_profile_id"]
    purpose = str(profile["charging_profile_purpose"])
    converted["charging_profile_purpose"] = PURPOSES.get(purpose, purpose)
    schedule = {key: value for key, value in profile["charging_schedule"].items() if value is not None}
    converted["charging_schedule"] = [{"id": profile["charging_profile_id"], **schedule}]
    if profile.get("transaction_id") is not None and not in_request:
        converted["transaction_id"] = str(profile["transaction_id"])
    return converted


def _remote_start(request: call16.RemoteStartTransaction) -> call.RequestStartTransaction:
    profile = request.charging_profile
    return call.RequestStartTransaction(
        id_token={"id_token": request.id_tag, "type": "Central"},
        remote_start_id=next(_remote_start_ids),
        evse_id=request.connector_id,
        charging_profile=charging_profile(profile, in_request=True) if profile else None,
    )


def remote_start_typed(request: call16.RemoteStartTransaction, id_token_type: str) -> call.RequestStartTransaction:
    """Return the RequestStartTransaction of a 1.6 request with an id token of another type than Central."""
    converted = _remote_start(request)
    converted.id_token = {"id_token": request.id_tag, "type": id_token_type}
    return converted


def _remote_stop(request: call16.RemoteStopTransaction) -> call.RequestStopTransaction:
    return call.RequestStopTransaction(transaction_id=str(request.transaction_id))


def _unlock(request: call16.UnlockConnector) -> call.UnlockConnector:
    return call.UnlockConnector(evse_id=request.connector_id, connector_id=1)


def _reset(request: call16.Reset) -> call.Reset:
    # Hard: now, whatever runs (transactions end); Soft: once the station is idle (B11/B12).
    return call.Reset(type="Immediate" if str(request.type) == "Hard" else "OnIdle")


def reset_evse(request: call16.Reset, evse_id: int) -> call.Reset:
    """Return the 2.0.1 Reset of one EVSE (B11/B12); a 1.6 Reset has no connector."""
    return call.Reset(type=_reset(request).type, evse_id=evse_id)


def _change_availability(request: call16.ChangeAvailability) -> call.ChangeAvailability:
    return call.ChangeAvailability(operational_status=str(request.type), evse=evse(request.connector_id))


def trigger_message(message: str, connector_id: int | None) -> call.TriggerMessage:
    """Return 2.0.1's TriggerMessage (F06) for a 1.6 trigger name and connector (its EVSE)."""
    target = evse(connector_id)
    if target is not None and message == "StatusNotification":
        target["connector_id"] = 1  # F06: a StatusNotification is about one connector of the EVSE
    return call.TriggerMessage(requested_message=TRIGGERS.get(message, message), evse=target)


def _trigger(request: call16.TriggerMessage) -> call.TriggerMessage:
    return trigger_message(str(request.requested_message), request.connector_id)


def _clear_cache(_request: call16.ClearCache) -> call.ClearCache:
    return call.ClearCache()


def _set_profile(request: call16.SetChargingProfile) -> call.SetChargingProfile:
    return call.SetChargingProfile(
        evse_id=request.connector_id, charging_profile=charging_profile(request.cs_charging_profiles)
    )


def _clear_profile(request: call16.ClearChargingProfile) -> call.ClearChargingProfile:
    criteria = {
        "evse_id": request.connector_id,
        "charging_profile_purpose": PURPOSES.get(
            str(request.charging_profile_purpose), request.charging_profile_purpose
        )
        if request.charging_profile_purpose is not None
        else None,
        "stack_level": request.stack_level,
    }
    given = {key: value for key, value in criteria.items() if value is not None}
    return call.ClearChargingProfile(charging_profile_id=request.id, charging_profile_criteria=given or None)


def _composite(request: call16.GetCompositeSchedule) -> call.GetCompositeSchedule:
    return call.GetCompositeSchedule(
        duration=request.duration, evse_id=request.connector_id, charging_rate_unit=request.charging_rate_unit
    )


REQUESTS: dict[str, Callable[[Any], Any]] = {
    "RemoteStartTransaction": _remote_start,
    "RemoteStopTransaction": _remote_stop,
    "UnlockConnector": _unlock,
    "Reset": _reset,
    "ChangeAvailability": _change_availability,
    "TriggerMessage": _trigger,
    "ClearCache": _clear_cache,
    "SetChargingProfile": _set_profile,
    "ClearChargingProfile": _clear_profile,
    "GetCompositeSchedule": _composite,
}


def to_v201(request: Any) -> Any:
    """Return the 2.0.1 request for a 1.6 one; any other request unchanged."""
    if type(request).__module__ != call16.__name__:
        return request
    build = REQUESTS.get(type(request).__name__)
    return request if build is None else build(request)


def from_v201(answer: Any) -> Any:
    """Return a 2.0.1 answer as the 1.6 path reads it (only the composite schedule differs in shape)."""
    if type(answer).__name__ != "GetCompositeSchedule":
        return answer
    schedule = answer.schedule
    if not schedule:
        return call_result16.GetCompositeSchedule(status=str(answer.status))
    return call_result16.GetCompositeSchedule(
        status=str(answer.status),
        connector_id=schedule.get("evse_id"),
        schedule_start=schedule.get("schedule_start"),
        charging_schedule={
            "duration": schedule.get("duration"),
            "start_schedule": schedule.get("schedule_start"),
            "charging_rate_unit": schedule.get("charging_rate_unit"),
            "charging_schedule_period": schedule.get("charging_schedule_period") or [],
        },
    )
