"""Local controller mode in Home Assistant: the relay's settings, upstream status and repair issue.

The engine (engine/relay.py) relays every relayed charger to the entry's `upstream_url`; this
module builds it from the entry's options, shows each charger's upstream connection
(`upstream_connected`), raises a repair issue when an upstream stays unreachable for the
configured number of minutes, re-installs Home Assistant's limits when the upstream clears
them, and tests an upstream connection for the options flow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import logging
import ssl
from typing import TYPE_CHECKING, Any

from homeassistant.const import CONF_PASSWORD
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.util.ssl import client_context, client_context_no_verify

from .const import (
    CONF_UPSTREAM_CA_FILE,
    CONF_UPSTREAM_OUTAGE_MINUTES,
    CONF_UPSTREAM_SKIP_VERIFY,
    CONF_UPSTREAM_URL,
    DEFAULT_UPSTREAM_OUTAGE_MINUTES,
    DOMAIN,
    PING_INTERVAL,
    PING_TIMEOUT,
)
from .engine.relay import (
    RelayManager,
    RelaySession,
    RelaySettings,
    UpstreamFailure,
    UpstreamStatus,
    probe_upstream,
)
from .engine.smart_charging import PURPOSE_CHARGE_POINT_MAX, PURPOSE_TX, PURPOSE_TX_DEFAULT
from .smart_charging import LimitController

if TYPE_CHECKING:
    from .ports import Hub

_LOGGER = logging.getLogger(__name__)

UPSTREAM_CONNECTED = "upstream_connected"
HA_PURPOSES = (PURPOSE_CHARGE_POINT_MAX, PURPOSE_TX_DEFAULT, PURPOSE_TX)


def outage_issue_id(charge_point_id: str) -> str:
    """Return the repair issue id of a charger whose upstream is unreachable."""
    return f"upstream_unreachable_{charge_point_id}"


def build_upstream_ssl_context(ca_file: str | None, skip_verify: bool) -> ssl.SSLContext:
    """Return the TLS context for wss:// upstreams (blocking with a CA file: run in the executor)."""
    if skip_verify:
        return client_context_no_verify()
    if ca_file:
        context = ssl.create_default_context(cafile=ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context
    return client_context()


async def async_upstream_ssl_context(hass: HomeAssistant, config: Mapping[str, Any]) -> ssl.SSLContext:
    """Build the upstream TLS context of an entry's settings."""
    ca_file = config.get(CONF_UPSTREAM_CA_FILE) or None
    skip_verify = bool(config.get(CONF_UPSTREAM_SKIP_VERIFY))
    return await hass.async_add_executor_job(build_upstream_ssl_context, ca_file, skip_verify)


async def async_test_upstream(
    hass: HomeAssistant, config: Mapping[str, Any], charge_point_id: str, password: str | None
) -> UpstreamFailure | None:
    """Open (and close) an upstream connection as charger `charge_point_id`; None when it worked."""
    context = await async_upstream_ssl_context(hass, config)
    return await probe_upstream(str(config[CONF_UPSTREAM_URL]), charge_point_id, password, context)


class LocalController:
    """The local controller mode of one entry."""

    def __init__(self, hub: Hub, limits: LimitController) -> None:
        """Bind to the hub; `async_start` builds the relay when an upstream URL is set."""
        self.hub = hub
        self.limits = limits
        self.relay: RelayManager | None = None
        self._issue_timers: dict[str, Callable[[], None]] = {}
        self._issues: set[str] = set()
        self._collision_warned: set[str] = set()

    @property
    def config(self) -> dict[str, Any]:
        """Return the entry's settings."""
        return {**self.hub.entry.data, **self.hub.entry.options}

    @property
    def enabled(self) -> bool:
        """Return True when the entry relays chargers to an upstream central system."""
        return bool(self.config.get(CONF_UPSTREAM_URL))

    def relayed(self, charge_point_id: str) -> bool:
        """Return True when the charger is relayed (an upstream is set and its options relay it)."""
        return self.relay is not None and self.relay.relayed(charge_point_id)

    def status(self, charge_point_id: str) -> UpstreamStatus | None:
        """Return the upstream status of a charger, None when it never had one."""
        return self.relay.status.get(charge_point_id) if self.relay is not None else None

    async def async_start(self) -> RelayManager | None:
        """Build the relay for the server, None without an upstream URL."""
        config = self.config
        if not config.get(CONF_UPSTREAM_URL):
            return None
        settings = RelaySettings(
            upstream_url=str(config[CONF_UPSTREAM_URL]),
            ssl_context=await async_upstream_ssl_context(self.hub.hass, config),
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
        )
        entry_password = config.get(CONF_PASSWORD) or None
        self.relay = RelayManager(
            self.hub.central,
            settings,
            local_password_for=lambda cp: self.hub.central.password_of(cp) or entry_password,
            on_status=self._status_changed,
            on_upstream_request=self._upstream_request_answered,
        )
        return self.relay

    async def async_stop(self) -> None:
        """Close the upstream links (after the server closed the chargers) and forget the issues."""
        if self.relay is not None:
            await self.relay.stop()
        for cancel in self._issue_timers.values():
            cancel()
        self._issue_timers.clear()
        for charge_point_id in self._issues:
            ir.async_delete_issue(self.hub.hass, DOMAIN, outage_issue_id(charge_point_id))
        self._issues.clear()

    @callback
    def reconnect(self, charge_point_id: str) -> None:
        """Close a charger's connection so that it reconnects with its changed relay settings."""
        session = self.hub.central.sessions.get(charge_point_id)
        if session is not None:
            self.hub.hass.async_create_background_task(
                session.connection.close(code=1012, reason="Settings changed"), f"{DOMAIN} reconnect {charge_point_id}"
            )

    # --- upstream status ------------------------------------------------------------------

    @callback
    def _status_changed(self, charge_point_id: str) -> None:
        status = self.status(charge_point_id)
        if status is not None and status.outage_since is not None:
            if charge_point_id not in self._issue_timers and charge_point_id not in self._issues:
                minutes = float(self.config.get(CONF_UPSTREAM_OUTAGE_MINUTES) or DEFAULT_UPSTREAM_OUTAGE_MINUTES)

                @callback
                def _raise(_now: Any) -> None:
                    self._issue_timers.pop(charge_point_id, None)
                    self._raise_issue(charge_point_id, minutes)

                self._issue_timers[charge_point_id] = async_call_later(self.hub.hass, minutes * 60, _raise)
        else:
            cancel = self._issue_timers.pop(charge_point_id, None)
            if cancel is not None:
                cancel()
            if charge_point_id in self._issues:
                self._issues.discard(charge_point_id)
                ir.async_delete_issue(self.hub.hass, DOMAIN, outage_issue_id(charge_point_id))
        self.hub.charger_changed(charge_point_id, 0, frozenset({UPSTREAM_CONNECTED}))

    def _raise_issue(self, charge_point_id: str, minutes: float) -> None:
        # The outage lasts: its end cancels the timer that calls this (_status_changed).
        status = self.status(charge_point_id)
        failure = status.last_failure if status is not None else None
        self._issues.add(charge_point_id)
        ir.async_create_issue(
            self.hub.hass,
            DOMAIN,
            outage_issue_id(charge_point_id),
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="upstream_unreachable",
            translation_placeholders={
                "charge_point_id": charge_point_id,
                "url": str(self.config.get(CONF_UPSTREAM_URL)),
                "minutes": f"{minutes:g}",
                "error": str(failure) if failure else "",
            },
            data={"entry_id": self.hub.entry.entry_id, "charge_point_id": charge_point_id},
        )

    # --- the upstream's smart charging and Home Assistant's limits -----------------------

    def _our_profile_ids(self) -> set[int]:
        limits = self.limits
        return {limits.limit_profile_id(c) for c in range(0, 33)} | {limits.tx_profile_id(c) for c in range(1, 33)}

    @callback
    def _upstream_request_answered(
        self, session: RelaySession, action: str, request: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> None:
        if answer.get("status") != "Accepted":
            return
        charge_point_id = session.id
        charger = self.hub.central.chargers.get(charge_point_id)
        if charger is None or not charger.limits:
            return
        stack_level = self.limits.stack_level_of(charger)
        if action == "ClearChargingProfile":
            profile_id = request.get("id")
            if profile_id is not None:
                ours = profile_id in self._our_profile_ids()
            else:
                ours = request.get("stackLevel") in (None, stack_level) and request.get(
                    "chargingProfilePurpose"
                ) in (None, *HA_PURPOSES)
            if ours:
                _LOGGER.info("%s: the upstream cleared charging profiles; sending the limits again", charge_point_id)
                self.hub.hass.async_create_background_task(
                    self.limits.async_resend(charge_point_id), f"{DOMAIN} limits {charge_point_id}"
                )
        elif action == "SetChargingProfile":
            profile = request.get("csChargingProfiles")
            if not isinstance(profile, dict) or charge_point_id in self._collision_warned:
                return
            replaced = profile.get("chargingProfileId") in self._our_profile_ids() or (
                profile.get("stackLevel") == stack_level
                and profile.get("chargingProfilePurpose") in (PURPOSE_CHARGE_POINT_MAX, PURPOSE_TX_DEFAULT)
            )
            if replaced:
                self._collision_warned.add(charge_point_id)
                _LOGGER.warning(
                    "%s: the upstream installed a charging profile with the id or the stack level of Home "
                    "Assistant's limits (profile %s, stack level %s), which replaces them on the charger; "
                    "choose another limit profile id or stack level in the options",
                    charge_point_id, profile.get("chargingProfileId"), profile.get("stackLevel"),
                )
