"""Handlers of reservations and local authorization lists."""

from __future__ import annotations

from typing import Any

from .. import local_list, reservations
from ..engine.configuration import (
    PROFILE_LOCAL_AUTH,
    PROFILE_RESERVATION,
)
from ..engine.util import format_datetime, utcnow
from ..errors import invalid
from .targets import Target


async def reserve_now(target: Target) -> dict[str, Any]:
    """Handle the `reserve_now` action."""
    target.require_profile(PROFILE_RESERVATION, "reserve_now")
    connector_id = target.connector_id(default=1, minimum=0)
    assert connector_id is not None
    # 2.0.1's device model: ReservationCtrlr.NonEvseSpecific.
    zero = target.charger.config_bool("ReserveConnectorZeroSupported") or target.charger.config_bool(
        "ReservationCtrlr/NonEvseSpecific"
    )
    if connector_id == 0 and zero is not True:
        raise invalid("reserve_connector_zero", charge_point_id=target.charge_point_id)
    expiry = reservations.aware(target.data["expiry_date"])
    if expiry <= utcnow():
        raise invalid("expiry_in_past", expiry_date=format_datetime(expiry))
    return await reservations.reserve_now(
        target.runtime.reservations,
        target.charge_point_id,
        connector_id,
        target.data["id_tag"],
        expiry,
        parent_id_tag=target.data.get("parent_id_tag"),
        reservation_id=target.data.get("reservation_id"),
        token_type=target.data.get("id_token_type"),
        connector_type=target.data.get("connector_type"),
    )


async def cancel_reservation(target: Target) -> dict[str, Any]:
    """Handle the `cancel_reservation` action."""
    target.require_profile(PROFILE_RESERVATION, "cancel_reservation")
    reservation_id = target.data["reservation_id"]
    known = target.hub.central.auth.reservations.get(reservation_id)
    if known is not None and known.charge_point_id != target.charge_point_id:
        raise invalid(
            "reservation_other_charger", reservation_id=reservation_id, charge_point_id=known.charge_point_id
        )
    return await reservations.cancel_reservation(target.runtime.reservations, target.charge_point_id, reservation_id)


async def send_local_list(target: Target) -> dict[str, Any]:
    """Handle the `send_local_list` action."""
    target.require_profile(PROFILE_LOCAL_AUTH, "send_local_list")
    return await local_list.send_local_list(
        target.runtime.local_lists,
        target.charge_point_id,
        target.data["update_type"],
        target.data.get("local_authorization_list"),
        target.data.get("list_version"),
    )


async def get_local_list_version(target: Target) -> dict[str, Any]:
    """Handle the `get_local_list_version` action."""
    target.require_profile(PROFILE_LOCAL_AUTH, "get_local_list_version")
    return await local_list.get_local_list_version(target.hub, target.charge_point_id)
