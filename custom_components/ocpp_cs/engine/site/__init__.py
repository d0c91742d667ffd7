"""Site energy management (issue 16): share the main fuse and the solar surplus among chargers.

The engine part, without Home Assistant. How the glue uses it:

1. Build a `SiteConfig` from the entry's Site options and keep one `SiteController` per entry
   (a new one when the options change).
2. For every steered connector build a `ConnectorInput` (mode and priority from its select and
   number, min/max current and phases from the charger's settings, `can_switch_phases` from its
   quirk profile, the latest per-phase Current.Import (None when older than 30 s), the
   `SentLimit` it last accepted from the controller, and whether a car is plugged in); `manual`
   connectors may be passed or left out, they are never in the output.
3. Build a `GridReading` from the grid sensors' states (A per phase, or W: kW times 1000; `at` =
   when the state last changed or was last reported; None when unavailable) and call
   `SiteController.step(now, grid, connectors)` on every sensor update, MeterValues, status or
   settings change and on a timer every few seconds. `now` is any steady clock in seconds.
4. Send `SiteDecision.decisions` in order (urgent ones first, past the limit path's coalescing
   delay): `FailSafe.steering_profile(decision, wall_clock_now)`, and `transaction_profile` too
   while a transaction runs (many chargers apply a TxDefaultProfile to new transactions only,
   and a TxProfile, such as the manual limit's, overrides every TxDefaultProfile). Record
   `SentLimit(limit, phases, at=now)` when the charger accepts. Install `FailSafe.base_profile`
   once per connector when it becomes steered; when it goes back to `manual`, send the user's
   own limit again (the base profile replaced it when both use the same stack level).
5. `SiteDecision.grid_stale` raises the repair issue (and clears it when False again);
   `headroom_current`, `surplus_power` and `charging_power` are the site sensors' states.
"""

from .allocate import Claim, admit, share
from .controller import SiteController
from .model import (
    SOLAR_MODES,
    ConnectorDecision,
    ConnectorInput,
    GridReading,
    Mode,
    SentLimit,
    SiteConfig,
    SiteDecision,
    Target,
)
from .profiles import FailSafe, refresh_due

__all__ = [
    "SOLAR_MODES",
    "Claim",
    "ConnectorDecision",
    "ConnectorInput",
    "FailSafe",
    "GridReading",
    "Mode",
    "SentLimit",
    "SiteConfig",
    "SiteController",
    "SiteDecision",
    "Target",
    "admit",
    "refresh_due",
    "share",
]
