"""Charging limits: coalesced, unit-converted, persisted and re-sent; composite schedules.

An automation may set a limit every few seconds: identical values are not re-sent, and a
burst becomes at most one SetChargingProfile per scope and interval, carrying the newest
value. The stored limit (what the number entities show) changes only when the charger
accepted it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import logging
import time
from typing import Any

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from ocpp.v16 import call

from . import commands
from .const import CONF_LIMIT_PROFILE_ID, CONF_LIMIT_STACK_LEVEL, DOMAIN
from .engine.configuration import PROFILE_SMART_CHARGING
from .engine.smart_charging import (
    LIMIT_PROFILE_ID_BASE,
    LIMIT_STACK_LEVEL,
    PURPOSE_CHARGE_POINT_MAX,
    PURPOSE_TX,
    PURPOSE_TX_DEFAULT,
    TX_PROFILE_ID_BASE,
    UNIT_A,
    Conversion,
    allowed_units,
    current_limit_of_schedule,
    limit_in,
    limit_profile,
    limit_stack_level,
    limit_targets,
    measured_voltage,
    phases_in_use,
    shape,
    to_charger_unit,
)
from .engine.state import ChargerState, ChargingLimit
from .engine.util import utcnow
from .errors import error, invalid
from .ports import Hub
from .settings import entry_config

_LOGGER = logging.getLogger(__name__)

# After this many refused SetChargingProfile in a row (and none accepted), limits are
# reported as unsupported in a repair issue instead of failing silently again and again.
REFUSALS_BEFORE_UNSUPPORTED = 3
COMPOSITE_DURATION = 3600


def unsupported_issue_id(charge_point_id: str) -> str:
    """Return the repair issue id for a charger that does not do smart charging."""
    return f"smart_charging_unsupported_{charge_point_id}"


@dataclass(frozen=True, slots=True)
class CompositeLimit:
    """The composite schedule's limit now: as the charger answered it, and in amperes."""

    amperes: float
    limit: float
    unit: str


@dataclass(slots=True)
class _Scope:
    """The limit of one charger scope (connector 0 = the charger) on its way to the charger."""

    desired: ChargingLimit | None = None
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    last_send: float = float("-inf")


class LimitController:
    """Sends charging limits for one entry, coalescing bursts per scope."""

    def __init__(self, hub: Hub) -> None:
        """Bind to the hub."""
        self.hub = hub
        self.min_interval = 1.0
        self._scopes: dict[tuple[str, int], _Scope] = {}
        self._refusals: dict[str, int] = {}
        self._accepted_once: set[str] = set()
        self.refused: set[str] = set()
        # The conversion used for the limit in force, per scope (shown as attributes).
        self.conversions: dict[tuple[str, int], Conversion] = {}
        # The composite schedule's limit now, per connector.
        self.composite: dict[tuple[str, int], CompositeLimit] = {}
        # Set by the site controller: the connector's mode when the site steers it, else None.
        # Its base profile is a TxDefaultProfile at the user's limit's stack level, which the
        # user's TxDefaultProfile would replace (OCPP 1.6 3.13.2): no user limit goes to it.
        self.steered_by: Callable[[str, int], str | None] = lambda _cp, _connector: None

    # The profile ids and stack level of the limits are entry options, so that they can be
    # chosen to combine with another central system's profiles (local controller mode).

    @property
    def profile_id_base(self) -> int:
        """Return the profile id of the charger-wide limit (connector N: this + N)."""
        value = entry_config(self.hub.entry).get(CONF_LIMIT_PROFILE_ID)
        return int(value) if value is not None else LIMIT_PROFILE_ID_BASE

    @property
    def stack_level(self) -> int:
        """Return the stack level of the limits' profiles."""
        value = entry_config(self.hub.entry).get(CONF_LIMIT_STACK_LEVEL)
        return int(value) if value is not None else LIMIT_STACK_LEVEL

    def stack_level_of(self, charger: ChargerState) -> int:
        """Return the stack level of a charger's limits: the option, as far as the charger goes."""
        return limit_stack_level(charger, self.stack_level)

    def limit_profile_id(self, connector_id: int) -> int:
        """Return the profile id of a scope's limit (ChargePointMaxProfile / TxDefaultProfile)."""
        return self.profile_id_base + connector_id

    def tx_profile_id(self, connector_id: int) -> int:
        """Return the profile id of the running transaction's TxProfile on a connector."""
        return self.profile_id_base + (TX_PROFILE_ID_BASE - LIMIT_PROFILE_ID_BASE) + connector_id

    def forget_cleared(
        self,
        charge_point_id: str,
        *,
        profile_id: int | None,
        connector_id: int | None,
        purpose: str | None,
        stack_level: int | None,
    ) -> None:
        """Forget the limits an accepted ClearChargingProfile with these criteria removed from the charger."""
        charger = self.hub.central.chargers[charge_point_id]
        for scope in list(charger.limits):
            if profile_id is not None:
                cleared = profile_id == self.limit_profile_id(scope)
            else:
                scope_purpose = PURPOSE_CHARGE_POINT_MAX if scope == 0 else PURPOSE_TX_DEFAULT
                cleared = (
                    purpose in (None, scope_purpose)
                    and connector_id in (None, scope)
                    and stack_level in (None, self.stack_level_of(charger))
                )
            if cleared:
                self.hub.central.clear_limit(charge_point_id, scope)

    def supported(self, charge_point_id: str) -> bool:
        """Return False when the charger lacks Smart Charging or refuses every limit."""
        charger = self.hub.central.chargers.get(charge_point_id)
        if charger is None or charge_point_id in self.refused:
            return False
        return charger.supports(PROFILE_SMART_CHARGING)

    async def async_set(
        self, charge_point_id: str, connector_id: int, limit: ChargingLimit, *, force: bool = False
    ) -> None:
        """Send a limit (coalesced); return once it is accepted, superseded, or raise."""
        charger = self.hub.central.chargers[charge_point_id]
        if connector_id > 0 and (mode := self.steered_by(charge_point_id, connector_id)) is not None:
            raise invalid("connector_steered", charge_point_id=charge_point_id, connector_id=connector_id, mode=mode)
        key = (charge_point_id, connector_id)
        scope = self._scopes.setdefault(key, _Scope())
        idle = scope.task is None or scope.task.done()
        if idle and not force and charger.limits.get(connector_id) == limit:
            return
        for waiter in scope.waiters:
            if not waiter.done():
                waiter.set_result(None)  # superseded by a newer value
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        scope.desired = limit
        scope.waiters = [future]
        if idle:
            scope.task = self.hub.hass.async_create_background_task(
                self._run(charge_point_id, connector_id, scope), f"{DOMAIN} limit {charge_point_id}/{connector_id}"
            )
        await future

    async def _run(self, charge_point_id: str, connector_id: int, scope: _Scope) -> None:
        while scope.desired is not None:
            wait = scope.last_send + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            limit, waiters = scope.desired, scope.waiters
            scope.desired, scope.waiters = None, []
            scope.last_send = time.monotonic()
            try:
                await self._send(charge_point_id, connector_id, limit)
            except HomeAssistantError as err:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(err)
            else:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    async def _send(self, charge_point_id: str, connector_id: int, limit: ChargingLimit) -> None:
        hub = self.hub
        charger = hub.central.chargers[charge_point_id]
        if not charger.supports(PROFILE_SMART_CHARGING):
            raise invalid(
                "feature_not_supported",
                charge_point_id=charge_point_id,
                action="SetChargingProfile",
                profile="SmartCharging",
            )
        quirks = charger.quirks
        level = self.stack_level_of(charger)
        conversion: Conversion | None = None
        for target, purpose, target_limit in limit_targets(charger, connector_id, limit):
            if purpose == PURPOSE_TX_DEFAULT and self.steered_by(charge_point_id, target) is not None:
                # The charger-wide limit spread over the connectors (quirk) skips the steered ones:
                # it would replace the site's base profile. They get it back with `manual`.
                continue
            voltage = measured_voltage(charger, target)
            phases = phases_in_use(charger, target, charger.phases)
            sent = shape(to_charger_unit(target_limit, allowed_units(charger), voltage, phases), quirks)
            conversion = conversion or sent
            profile = limit_profile(
                purpose, target, sent.value, sent.unit, profile_id=self.limit_profile_id(target), stack_level=level
            )
            result = await commands.async_call(
                hub, charge_point_id, call.SetChargingProfile(connector_id=target, cs_charging_profiles=profile)
            )
            if result.status != "Accepted":
                self.note_refused(charge_point_id)
                self._raise_refused(charge_point_id, result)
            self.note_accepted(charge_point_id)
            if target > 0:
                await self._set_tx_profile(charge_point_id, target, sent, level)
        if conversion is not None:  # None: every target is steered by the site
            self.conversions[(charge_point_id, connector_id)] = conversion
        hub.central.set_limit(charge_point_id, connector_id, limit)
        hub.hass.async_create_background_task(
            self.async_refresh_composite(charge_point_id, connector_id), f"{DOMAIN} composite {charge_point_id}"
        )

    async def _set_tx_profile(
        self, charge_point_id: str, connector_id: int, conversion: Conversion, stack_level: int
    ) -> None:
        """Many chargers apply TxDefaultProfile to new transactions only: set the running one too."""
        charger = self.hub.central.chargers[charge_point_id]
        connector = charger.connectors.get(connector_id)
        transaction = connector.transaction if connector else None
        if transaction is None or self.hub.central.transaction_in_doubt(transaction):
            # (One the charger may no longer have, after it rebooted: it would refuse the profile.)
            return
        tx_profile = limit_profile(
            PURPOSE_TX,
            connector_id,
            conversion.value,
            conversion.unit,
            profile_id=self.tx_profile_id(connector_id),
            stack_level=stack_level,
            transaction_id=transaction.transaction_id,
            absolute=charger.quirks.absolute_profiles,
        )
        try:
            tx_result = await commands.async_call(
                self.hub,
                charge_point_id,
                call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=tx_profile),
            )
        except HomeAssistantError as err:
            _LOGGER.info("%s: TxProfile not set: %s", charge_point_id, err)
            return
        if tx_result.status != "Accepted":
            _LOGGER.info("%s refused the TxProfile of transaction %s", charge_point_id, transaction.transaction_id)

    def _raise_refused(self, charge_point_id: str, result: Any) -> None:
        """Raise a refusal (always), naming the charger settings behind it when its quirk profile knows them."""
        hint = self.hub.central.chargers[charge_point_id].quirks.refusal_hint
        if hint is None:
            commands.expect_status(charge_point_id, "SetChargingProfile", result)
        raise error(
            "refused_hint", charge_point_id=charge_point_id, action="SetChargingProfile", status=result.status,
            hint=hint,
        )

    def note_refused(self, charge_point_id: str) -> None:
        """Count a SetChargingProfile the charger refused (the site's too): limits unsupported after a few."""
        count = self._refusals.get(charge_point_id, 0) + 1
        self._refusals[charge_point_id] = count
        if count >= REFUSALS_BEFORE_UNSUPPORTED and charge_point_id not in self._accepted_once:
            self.refused.add(charge_point_id)
            hint = self.hub.central.chargers[charge_point_id].quirks.refusal_hint or ""
            self._report_unsupported(charge_point_id, "smart_charging_refused", count=str(count), hint=hint)

    def note_accepted(self, charge_point_id: str) -> None:
        """Count a SetChargingProfile the charger accepted (the site's too): it takes profiles."""
        self._refusals.pop(charge_point_id, None)
        self._accepted_once.add(charge_point_id)
        if charge_point_id in self.refused:
            self.refused.discard(charge_point_id)
            ir.async_delete_issue(self.hub.hass, DOMAIN, unsupported_issue_id(charge_point_id))
            self.hub.central.changed(charge_point_id, 0, frozenset({"limit_support"}))

    def configuration_read(self, charge_point_id: str) -> None:
        """Raise a repair issue when the charger says it has no Smart Charging profile."""
        charger = self.hub.central.chargers.get(charge_point_id)
        if charger is None:
            return
        if charger.supports(PROFILE_SMART_CHARGING):
            if charge_point_id not in self.refused:
                ir.async_delete_issue(self.hub.hass, DOMAIN, unsupported_issue_id(charge_point_id))
            return
        self._report_unsupported(charge_point_id, "smart_charging_unsupported")

    def _report_unsupported(self, charge_point_id: str, reason: str, **placeholders: str) -> None:
        """Say in a repair issue why the charger's limits are unavailable, and show them so."""
        ir.async_create_issue(
            self.hub.hass,
            DOMAIN,
            unsupported_issue_id(charge_point_id),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=reason,
            translation_placeholders={"charge_point_id": charge_point_id, **placeholders},
        )
        self.hub.central.changed(charge_point_id, 0, frozenset({"limit_support"}))

    async def async_resend(self, charge_point_id: str) -> None:
        """Send every stored limit again (a charger may lose volatile profiles on reboot).

        Not to the connectors the site steers: the user's TxDefaultProfile would replace the
        site's fail-safe base profile. Theirs stay stored and go out when they are `manual` again.
        The charger-wide limit (a ChargePointMaxProfile) replaces no TxDefaultProfile: it goes.
        """
        charger = self.hub.central.chargers.get(charge_point_id)
        if charger is None or not charger.limits or not charger.supports(PROFILE_SMART_CHARGING):
            return
        for connector_id, limit in sorted(charger.limits.items()):
            if connector_id > 0 and self.steered_by(charge_point_id, connector_id) is not None:
                continue
            try:
                await self.async_set(charge_point_id, connector_id, limit, force=True)
            except HomeAssistantError as err:
                _LOGGER.warning(
                    "%s: could not restore the limit of connector %s: %s", charge_point_id, connector_id, err
                )

    async def async_refresh_composite(self, charge_point_id: str, connector_id: int) -> None:
        """Read the composite schedule back for the connector(s) a change affects."""
        charger = self.hub.central.chargers.get(charge_point_id)
        if charger is None:
            return
        targets = [connector_id] if connector_id > 0 else sorted(c for c in charger.connectors if c > 0)
        for target in targets:
            try:
                await self._read_composite(charge_point_id, target)
            except HomeAssistantError as err:
                _LOGGER.debug("%s: composite schedule of connector %s not read: %s", charge_point_id, target, err)
                return

    async def _read_composite(self, charge_point_id: str, connector_id: int) -> None:
        """Ask in amperes, what the sensor shows; a charger that refuses that answers in its own unit."""
        try:
            await self.get_composite_schedule(charge_point_id, connector_id, COMPOSITE_DURATION, UNIT_A)
        except HomeAssistantError as err:
            if err.translation_key != "refused":
                raise
            await self.get_composite_schedule(charge_point_id, connector_id, COMPOSITE_DURATION, None)

    async def get_composite_schedule(
        self, charge_point_id: str, connector_id: int, duration: int, unit: str | None
    ) -> dict[str, Any]:
        """Ask for the composite schedule, remember its limit now and return the answer."""
        payload = call.GetCompositeSchedule(connector_id=connector_id, duration=duration, charging_rate_unit=unit)
        result = await commands.async_call(self.hub, charge_point_id, payload)
        commands.expect_status(charge_point_id, "GetCompositeSchedule", result)
        answer = commands.answer_dict(result)
        schedule = answer.get("charging_schedule")
        now_limit = current_limit_of_schedule(schedule, utcnow()) if isinstance(schedule, dict) else None
        key = (charge_point_id, connector_id)
        if now_limit is None:
            self.composite.pop(key, None)
        else:
            limit, limit_unit = now_limit
            charger = self.hub.central.chargers[charge_point_id]
            # Converted as the limit numbers convert: measured voltage, phases carrying current.
            amperes = limit_in(
                ChargingLimit(limit, limit_unit),
                UNIT_A,
                measured_voltage(charger, connector_id),
                phases_in_use(charger, connector_id, charger.phases),
            )
            self.composite[key] = CompositeLimit(amperes, limit, limit_unit)
        self.hub.central.changed(charge_point_id, connector_id, frozenset({"composite_limit"}))
        return answer
