"""Carries out the site controller's decisions: SetChargingProfile per connector, and giving one back.

Per connector one send at a time: a newer decision waits for the one on its way and replaces any
other waiting (the newest wins); the same limit asked again while it is on its way is not sent
twice. A fuse lowering goes out before the connector's base profile. A connector given back to
`manual` loses the site's three profiles and gets the user's own limit again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
from ocpp.v16 import call

from . import commands
from .const import DOMAIN
from .engine.configuration import PROFILE_SMART_CHARGING
from .engine.site import ConnectorDecision, FailSafe, SentLimit, SiteConfig
from .engine.site.profiles import BASE_PROFILE_ID, STEERING_PROFILE_ID, TRANSACTION_PROFILE_ID
from .engine.state import ChargerState
from .ports import Hub
from .smart_charging import LimitController

_LOGGER = logging.getLogger(__name__)

type Key = tuple[str, int]

# Failures that say the charger will not take the profile (not that it was away or slow).
REFUSALS = frozenset({"refused", "call_error", "not_for_v201"})


class ProfileSender:
    """Sends one entry's site profiles; `sent` is what each steered connector last accepted."""

    def __init__(self, hub: Hub, limits: LimitController, steered: Callable[[Key], bool]) -> None:
        """Bind to the hub and the limit path; `steered` says whether a connector is still steered."""
        self.hub = hub
        self.hass: HomeAssistant = hub.hass
        self.limits = limits
        self._steered = steered
        self.config: SiteConfig | None = None
        self.sent: dict[Key, SentLimit] = {}
        # Connectors whose base profile the charger accepted.
        self._based: set[Key] = set()
        self._sending: dict[Key, asyncio.Task[None]] = {}
        self._in_flight: dict[Key, ConnectorDecision] = {}
        self._pending: dict[Key, ConnectorDecision] = {}
        # Connectors whose last send failed: warned once, not at every step that tries again.
        self._failing: set[Key] = set()
        self.stopped = False

    @property
    def idle(self) -> bool:
        """Return True when nothing is on its way to a charger."""
        return not self._sending

    def stop(self) -> None:
        """Send nothing more."""
        self.stopped = True
        for task in self._sending.values():
            task.cancel()

    def forget_charger(self, charge_point_id: str) -> None:
        """Forget what a disconnected charger holds: it may have lost its profiles when it returns."""
        for key in [k for k in self._based | set(self.sent) if k[0] == charge_point_id]:
            self._based.discard(key)
            self.sent.pop(key, None)

    def send(self, decision: ConnectorDecision, wall: datetime) -> None:
        """Send a decision now, or after the one on its way to the same connector (newest wins)."""
        key = decision.key
        if key in self._sending:
            flying = self._in_flight.get(key)
            if flying is not None and (flying.limit, flying.phases) == (decision.limit, decision.phases):
                return  # the controller asks again for what is on its way
            self._pending[key] = decision
            return
        self._in_flight[key] = decision
        self._sending[key] = self.hass.async_create_background_task(
            self._carry_out(decision, wall), f"{DOMAIN} site {key[0]}/{key[1]}"
        )

    def _failsafe(self, charger: ChargerState) -> FailSafe:
        assert self.config is not None
        return FailSafe.from_config(
            self.config,
            base_stack_level=self.limits.stack_level_of(charger),
            max_stack_level=charger.config_int("ChargeProfileMaxStackLevel"),
            stack_level_zero=charger.quirks.stack_level_zero,
        )

    async def _carry_out(self, decision: ConnectorDecision, wall: datetime) -> None:
        key = decision.key
        try:
            await self._set_profiles(decision, wall)
        except HomeAssistantError as err:
            level = logging.DEBUG if key in self._failing else logging.WARNING
            self._failing.add(key)
            _LOGGER.log(level, "%s: site limit of connector %s not set: %s", key[0], key[1], err)
        else:
            self._failing.discard(key)
        finally:
            self._sending.pop(key, None)
            self._in_flight.pop(key, None)
        newer = self._pending.pop(key, None)
        if newer is not None and not self.stopped and self._steered(key):
            self.send(newer, dt_util.utcnow())

    async def _set_profiles(self, decision: ConnectorDecision, wall: datetime) -> None:
        """The base profile once, the steering profile, and the running transaction's TxProfile.

        A lowering for the fuse goes first where it takes effect: the running transaction's
        TxProfile (it overrides every TxDefaultProfile), then the steering profile; the base
        profile (at most the fallback) can follow.
        """
        charge_point_id, connector_id = key = decision.key
        charger = self.hub.central.chargers[charge_point_id]
        failsafe = self._failsafe(charger)
        first = key not in self._based
        connector = charger.connectors.get(connector_id)
        transaction = connector.transaction if connector is not None else None
        # Many chargers apply TxDefaultProfiles to new transactions only, and the user's manual
        # limit sets a TxProfile: the running transaction gets the limit as its TxProfile too.
        # (A 2.0.1 station's string id goes into its 2.0.1 TxProfile: commands.async_call translates.
        # A transaction the charger may no longer have after a reboot gets none: engine/orphans.py.)
        tx_payload = (
            failsafe.transaction_profile(decision, transaction.transaction_id, wall)
            if transaction is not None and not self.hub.central.transaction_in_doubt(transaction)
            else None
        )
        # The user's TxProfile: of the connector's own limit, or of the charger-wide one where the
        # charger takes that as each connector's profiles (the charge_point_max_ignored quirk).
        users_tx = connector_id in charger.limits or (charger.quirks.charge_point_max_ignored and 0 in charger.limits)
        if first and transaction is not None and users_tx:
            await self._clear_users_tx_profile(charge_point_id, connector_id)
        if decision.urgent:
            await self._set_tx_profile(charge_point_id, tx_payload)
            await self._set_profile(charge_point_id, failsafe.steering_profile(decision, wall))
        if first:
            await self._set_profile(charge_point_id, failsafe.base_profile(connector_id))
            self._based.add(key)
        if not decision.urgent or (first and not failsafe.stacked):
            # Without stacking the base profile replaced the steering one: sent (again) after it.
            await self._set_profile(charge_point_id, failsafe.steering_profile(decision, wall))
        self.sent[key] = SentLimit(limit=decision.limit, phases=decision.phases, at=wall.timestamp())
        if not decision.urgent:
            await self._set_tx_profile(charge_point_id, tx_payload)

    async def _clear_users_tx_profile(self, charge_point_id: str, connector_id: int) -> None:
        """Remove the TxProfile the user's limit gave the running transaction, as the site takes over.

        It overrides every TxDefaultProfile: were the site's own TxProfile refused, or not sent
        (a transaction in doubt), the user's would hold and the site's lowerings do nothing.
        The user's limit (both profiles) goes out again when the connector is `manual` again.
        """
        try:
            await commands.async_call(
                self.hub, charge_point_id, call.ClearChargingProfile(id=self.limits.tx_profile_id(connector_id))
            )
        except HomeAssistantError as err:
            _LOGGER.info("%s: the user's TxProfile of connector %s not cleared: %s", charge_point_id, connector_id, err)

    async def _set_tx_profile(self, charge_point_id: str, payload: dict[str, Any] | None) -> None:
        """Send a transaction's TxProfile; a refusal is logged (the TxDefaultProfile still holds)."""
        if payload is None:
            return
        try:
            await self._set_profile(charge_point_id, payload)
        except HomeAssistantError as err:
            connector_id = payload["connector_id"]
            _LOGGER.info("%s: site TxProfile of connector %s not set: %s", charge_point_id, connector_id, err)

    async def _set_profile(self, charge_point_id: str, payload: dict[str, Any]) -> None:
        """Send one profile; a refusal counts towards the charger's limits being unsupported.

        After a few refusals (and none accepted) `LimitController.supported` says no: the site
        stops steering the charger, whose draw is then part of the house load it measures.
        """
        try:
            result = await commands.async_call(self.hub, charge_point_id, call.SetChargingProfile(**payload))
            commands.expect_status(charge_point_id, "SetChargingProfile", result)
        except HomeAssistantError as err:
            if err.translation_key in REFUSALS:
                self.limits.note_refused(charge_point_id)
            raise
        self.limits.note_accepted(charge_point_id)

    def release(self, key: Key) -> None:
        """Give a connector back to the user: remove the site's profiles, send the user's limit again."""
        self._pending.pop(key, None)
        # Not cancelled: a profile on its way may be installed whatever we do; cleared after it.
        task = self._sending.get(key)
        self.sent.pop(key, None)
        if key not in self._based and task is None:
            return  # the controller never sent it a profile
        self._based.discard(key)
        self.hass.async_create_background_task(self._clear(key, task), f"{DOMAIN} site release {key[0]}/{key[1]}")

    async def _clear(self, key: Key, sending: asyncio.Task[None] | None) -> None:
        charge_point_id, connector_id = key
        if sending is not None:
            await asyncio.wait((sending,))
            self._based.discard(key)
            self.sent.pop(key, None)
        charger = self.hub.central.chargers.get(charge_point_id)
        if charger is None or not charger.supports(PROFILE_SMART_CHARGING):
            return
        try:
            for base in (STEERING_PROFILE_ID, TRANSACTION_PROFILE_ID, BASE_PROFILE_ID):
                await commands.async_call(self.hub, charge_point_id, call.ClearChargingProfile(id=base + connector_id))
            limit = charger.limits.get(connector_id)
            if limit is not None:
                await self.limits.async_set(charge_point_id, connector_id, limit, force=True)
            elif charger.quirks.charge_point_max_ignored and (charger_wide := charger.limits.get(0)) is not None:
                # Such a charger gets the charger-wide limit as each connector's TxDefaultProfile,
                # which skipped this connector while it was steered.
                await self.limits.async_set(charge_point_id, 0, charger_wide, force=True)
        except HomeAssistantError as err:
            _LOGGER.warning("%s: connector %s not given back to its own limit: %s", charge_point_id, connector_id, err)
