"""Which OCPP version a connecting charger is served with (its WebSocket subprotocol)."""

from __future__ import annotations

from collections.abc import Sequence

from .state import OCPP_VERSION_AUTO

SUBPROTOCOL_V16 = "ocpp1.6"
SUBPROTOCOL_V201 = "ocpp2.0.1"
# Preferred first: a charger offering both is served as 2.0.1 unless its settings say 1.6.
SUBPROTOCOLS = (SUBPROTOCOL_V201, SUBPROTOCOL_V16)
_BY_VERSION = {"1.6": SUBPROTOCOL_V16, "2.0.1": SUBPROTOCOL_V201}


def choose_subprotocol(offered: Sequence[str], choice: str = OCPP_VERSION_AUTO) -> str | None:
    """Return the subprotocol to serve among those offered, None when none of ours is.

    `choice` (the charger's `ocpp_version` setting) decides between the two when both are
    offered; a charger offering only the other version is still served with it, so that a
    setting left over from a firmware change does not lock it out.
    """
    pinned = _BY_VERSION.get(choice)
    if pinned is not None and pinned in offered:
        return pinned
    for subprotocol in SUBPROTOCOLS:
        if subprotocol in offered:
            return subprotocol
    return None
