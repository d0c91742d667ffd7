"""OCPP 2.0.1 requests of reservations and local authorization lists, built from the 1.6 actions' arguments.

Our id tags are what 2.0.1 calls `idToken.idToken`; a request must also name the token's type,
and the tags of the entry's list are RFID cards unless the action says otherwise
(`DEFAULT_TOKEN_TYPE`). A 1.6 list entry (`id_tag`, `id_tag_info` with `status`, `expiry_date`,
`parent_id_tag`) becomes 2.0.1's AuthorizationData (`id_token`, `id_token_info` with `status`,
`cache_expiry_date_time`, `group_id_token`): D01, D02, H01, H02.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ocpp.v201 import call
from ocpp.v201.enums import ConnectorEnumType, IdTokenEnumType

DEFAULT_TOKEN_TYPE = "ISO14443"
# A parent id tag is a group, which 2.0.1 names with a token of the CSMS's own.
GROUP_TOKEN_TYPE = "Central"
TOKEN_TYPES = tuple(token_type.value for token_type in IdTokenEnumType)
CONNECTOR_TYPES = tuple(connector_type.value for connector_type in ConnectorEnumType)


def id_token(value: str, token_type: str = DEFAULT_TOKEN_TYPE) -> dict[str, str]:
    """Return an IdTokenType of an id tag."""
    return {"id_token": value, "type": token_type}


def reserve_now_request(
    reservation_id: int,
    connector_id: int,
    id_tag: str,
    expiry_date_time: str,
    parent_id_tag: str | None = None,
    *,
    token_type: str = DEFAULT_TOKEN_TYPE,
    connector_type: str | None = None,
) -> call.ReserveNow:
    """Return the ReserveNow call (H01): connector 0 (any) is a reservation of no particular EVSE."""
    return call.ReserveNow(
        id=reservation_id,
        expiry_date_time=expiry_date_time,
        id_token=id_token(id_tag, token_type),
        evse_id=connector_id or None,
        connector_type=connector_type,
        group_id_token=id_token(parent_id_tag, GROUP_TOKEN_TYPE) if parent_id_tag else None,
    )


def authorization_data(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Return a 1.6 local list entry (snake_case AuthorizationData) as 2.0.1's."""
    data: dict[str, Any] = {"id_token": id_token(entry["id_tag"])}
    info = entry.get("id_tag_info")
    if info is not None:
        token_info: dict[str, Any] = {"status": info["status"]}
        if info.get("expiry_date"):
            token_info["cache_expiry_date_time"] = info["expiry_date"]
        if info.get("parent_id_tag"):
            token_info["group_id_token"] = id_token(info["parent_id_tag"], GROUP_TOKEN_TYPE)
        data["id_token_info"] = token_info
    return data


def send_local_list_request(version: int, update_type: str, entries: list[dict[str, Any]]) -> call.SendLocalList:
    """Return the SendLocalList call (D01) of 1.6 entries: version, Full or Differential."""
    return call.SendLocalList(
        version_number=version,
        update_type=update_type,
        local_authorization_list=[authorization_data(entry) for entry in entries] or None,
    )
