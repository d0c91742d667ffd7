"""One central system per config entry: engine, server, Store, devices, entities and events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.storage import Store

from .const import (
    CONF_METER_VALUE_SAMPLE_INTERVAL,
    CONF_METER_VALUES_SAMPLED_DATA,
    CONF_SSL_CAFILE,
    CONF_SSL_CERTFILE,
    CONF_SSL_KEYFILE,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DOMAIN,
    EVENT_DATA_TRANSFER,
    EVENT_ID_TAG_PRESENTED,
    EVENT_SECURITY_EVENT,
    EVENT_SIGN_CERTIFICATE,
    EVENT_TRANSACTION_STARTED,
    EVENT_TRANSACTION_STOPPED,
    PING_INTERVAL,
    PING_TIMEOUT,
    RESPONSE_TIMEOUT,
    STORAGE_SAVE_DELAY,
    STORAGE_VERSION,
)
from .devices import EntityFactory, HubDevices, NewEntities
from .engine.central import CentralSystem
from .engine.listener import CertificateSigningRequested, DataTransferReceived, IdTagPresented, SecurityEventReceived
from .engine.persist import DelayedSave
from .engine.relay import RelayManager
from .engine.schemas import preload as preload_schemas
from .engine.server import CentralSystemServer, SecurityRequirement
from .engine.session import AnySession
from .engine.state import Transaction
from .events import transaction_event
from .ports import ChangeCallback, ChangeHook, ConnectedHook, SessionHook
from .settings import build_ssl_context, central_settings, entry_config, entry_security_profile, pending_issue_id
from .state_writes import StateWrites

_LOGGER = logging.getLogger(__name__)

# Changes that concern every connector's entities, not only connector 0's.
CHARGER_WIDE_KEYS = frozenset({"connected", "limit_support", "configuration", "settings"})


class OcppHub(HubDevices):
    """Owns the engine of one entry and adapts it to Home Assistant."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry[Any], other_centrals: Callable[[], Iterable[CentralSystem]]
    ) -> None:
        """Create the hub; `async_load` restores the state, `async_start` opens the port.

        `other_centrals` returns the engines of the domain's other loaded entries: a charge point
        id one of them knows is refused here at the handshake.
        """
        self.hass = hass
        self._other_centrals = other_centrals
        self.entry = entry
        config = entry_config(entry)
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")
        # Not Store.async_delay_save: each change pushes its write back, so a busy site's state
        # (last meter readings, statuses) would not reach the disk while changes keep coming.
        self._state_writes = DelayedSave(self._write_state, STORAGE_SAVE_DELAY)
        self.central = CentralSystem(central_settings(config), self, self)
        # Of chargers without their own; chargers have their own only where there is a client CA.
        self.default_security_profile = entry_security_profile(config)
        self.client_ca = bool(config.get(CONF_SSL_CERTFILE) and config.get(CONF_SSL_CAFILE))
        self.server: CentralSystemServer | None = None
        self._subscribers: defaultdict[str, defaultdict[int, set[ChangeCallback]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._factories: list[tuple[EntityFactory, AddConfigEntryEntitiesCallback]] = []
        self._populated: set[str] = set()
        # Shared by the dozens of entities of one device (read-only once made): memory per charger.
        self._device_infos: dict[tuple[str, int], tuple[tuple[Any, ...], DeviceInfo]] = {}
        self._placeholders: dict[str, dict[str, str]] = {}
        # Work to run (in the session's background) after an accepted boot and on connect.
        self.on_accepted_boot: list[SessionHook] = []
        self.on_connected: list[ConnectedHook] = []
        # Called with every change the engine announces: (charge point id, connector id, keys).
        self.on_change: list[ChangeHook] = []
        # Seconds a charger has to send BootNotification after connecting before it is asked to.
        self.boot_grace_seconds = 5.0
        # (charge point id, connector id) -> requested operative, while answered Scheduled.
        self.availability_scheduled: dict[tuple[str, int], bool] = {}
        # Coalesced state writes of meter sensors (state_writes.py).
        self.state_writes = StateWrites(hass)
        # Set by async_stop: the entities are going away, their changes are not written.
        self._stopping = False

    # --- lifecycle ----------------------------------------------------------------------

    async def async_load(self) -> None:
        """Restore the persisted state (before platforms are set up)."""
        self.central.restore(await self._store.async_load())

    async def async_start(self, relay: RelayManager | None) -> None:
        """Open the port (chargers relayed through `relay` in local controller mode); OSError if it is taken."""
        config = entry_config(self.entry)
        ssl_context = None
        if config.get(CONF_SSL_CERTFILE):
            ssl_context = await self.hass.async_add_executor_job(
                build_ssl_context,
                config[CONF_SSL_CERTFILE],
                config.get(CONF_SSL_KEYFILE),
                config.get(CONF_SSL_CAFILE),
            )
        await self.hass.async_add_executor_job(preload_schemas)
        password = config.get(CONF_PASSWORD) or None
        self.server = CentralSystemServer(
            self.central,
            host=config.get(CONF_HOST, DEFAULT_HOST),
            port=int(config.get(CONF_PORT, DEFAULT_PORT)),
            # A charger's own password (kept in its state) overrides the entry's.
            password_for=lambda charge_point_id: self.central.password_of(charge_point_id) or password,
            previous_password_for=self.central.previous_password_of,
            password_confirmed=self.central.password_confirmed,
            ssl_context=ssl_context,
            security_requirement=self.security_requirement,
            security_profile_confirmed=self.central.security_profile_confirmed,
            claimed_elsewhere=self._claimed_elsewhere,
            on_accepted_boot=self._accepted_boot,
            on_session_started=self._session_started,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            response_timeout=RESPONSE_TIMEOUT,
            relay=relay,
        )
        await self.server.start()

    async def async_stop(self, after_server: Callable[[], Awaitable[None]] | None = None) -> None:
        """Close every connection, stop listening, run `after_server` and write the state."""
        # The entities go away with the entry (its platforms mark them unavailable as they
        # unload) or with Home Assistant. What every charger's disconnect changes is not written:
        # dozens of state writes per charger (and entity registry updates: a power limit's
        # maximum follows the measured voltage) that nobody sees, thousands for 200 chargers
        # at once, in the middle of Home Assistant's shutdown and in the recorder's history.
        self._stopping = True
        self.state_writes.stop()
        if self.server is not None:
            await self.server.stop()
        if after_server is not None:
            await after_server()
        self._state_writes.cancel()
        await self._write_state()

    def apply_options(self) -> None:
        """Apply policy options that need no restart of the server."""
        config = entry_config(self.entry)
        self.central.apply_settings(central_settings(config))
        self.follow_default_security_profile(config)

    def follow_default_security_profile(self, config: Mapping[str, Any]) -> None:
        """Raise the chargers that follow the entry's profile with it (before a reload too)."""
        default = entry_security_profile(config)
        if default > self.default_security_profile:
            # Chargers that follow the entry's profile are raised with it: each may still use
            # the lower one until it first connects with the new one, as after its own raise.
            for charger in self.central.chargers.values():
                if charger.security_profile is None:
                    self.central.set_security_profile(
                        charger.charge_point_id, None, fallback=self.default_security_profile
                    )
        self.default_security_profile = default

    def security_requirement(self, charge_point_id: str) -> SecurityRequirement:
        """Return the security profile a charger must connect with (its own, else the entry's)."""
        charger = self.central.chargers.get(charge_point_id)
        if charger is None or not self.client_ca:
            # Without a client CA the entry's transport decides for every charger, as before
            # chargers had profiles of their own.
            return SecurityRequirement(self.default_security_profile)
        return SecurityRequirement(
            charger.security_profile or self.default_security_profile, charger.security_profile_fallback
        )

    def _claimed_elsewhere(self, charge_point_id: str) -> bool:
        if charge_point_id in self.central.chargers:
            return False
        return any(charge_point_id in central.chargers for central in self._other_centrals())

    async def _accepted_boot(self, session: AnySession) -> None:
        for hook in self.on_accepted_boot:
            await hook(session)

    def _session_started(self, session: AnySession) -> None:
        for hook in self.on_connected:
            session.run_in_background(hook(session))

    def meter_value_settings(self) -> dict[str, str]:
        """Return the MeterValue configuration keys the user wants set on every charger."""
        config = entry_config(self.entry)
        wanted: dict[str, str] = {}
        if config.get(CONF_METER_VALUE_SAMPLE_INTERVAL):
            wanted["MeterValueSampleInterval"] = str(int(config[CONF_METER_VALUE_SAMPLE_INTERVAL]))
        if config.get(CONF_METER_VALUES_SAMPLED_DATA):
            wanted["MeterValuesSampledData"] = str(config[CONF_METER_VALUES_SAMPLED_DATA])
        return wanted

    @callback
    def set_availability_request(
        self, charge_point_id: str, connector_id: int, operative: bool, *, scheduled: bool
    ) -> None:
        """Remember a ChangeAvailability answered Scheduled (shown until the charger's status follows)."""
        if scheduled:
            self.availability_scheduled[(charge_point_id, connector_id)] = operative
        else:
            self.availability_scheduled.pop((charge_point_id, connector_id), None)
        self._notify(charge_point_id, connector_id, frozenset({"availability"}))

    @callback
    def forget_charger(self, charge_point_id: str) -> None:
        """Forget a charger whose device the user removed; it comes back as new if it connects."""
        self.central.remove_charger(charge_point_id)
        self._populated.discard(charge_point_id)
        self._subscribers.pop(charge_point_id, None)
        for key in [key for key in self._device_infos if key[0] == charge_point_id]:
            del self._device_infos[key]

    @callback
    def accept_pending(self, charge_point_id: str) -> None:
        """Accept a pending charger and ask it to send BootNotification again."""
        self.central.accept_charger(charge_point_id)
        ir.async_delete_issue(self.hass, DOMAIN, pending_issue_id(charge_point_id))
        session = self.central.sessions.get(charge_point_id)
        if session is not None:
            session.run_in_background(self._trigger_boot(session))

    async def _trigger_boot(self, session: AnySession) -> None:
        await session.request_boot()

    # --- persistence port ---------------------------------------------------------------

    async def async_save_now(self, data: dict[str, Any]) -> None:
        """Write the engine's state now."""
        await self._store.async_save(data)

    def save_later(self) -> None:
        """Write the engine's state soon (within STORAGE_SAVE_DELAY), coalescing bursts."""
        self._state_writes.schedule()

    async def _write_state(self) -> None:
        await self._store.async_save(self.central.snapshot())

    # --- devices and entities -----------------------------------------------------------

    # --- subscriptions ------------------------------------------------------------------

    @callback
    def subscribe(self, charge_point_id: str, connector_id: int, callback_: ChangeCallback) -> None:
        """Call `callback_` with the changed keys of a charger's connector (until `unsubscribe`)."""
        self._subscribers[charge_point_id][connector_id].add(callback_)

    @callback
    def unsubscribe(self, charge_point_id: str, connector_id: int, callback_: ChangeCallback) -> None:
        """Stop calling `callback_`."""
        if (by_connector := self._subscribers.get(charge_point_id)) and connector_id in by_connector:
            by_connector[connector_id].discard(callback_)

    def _notify(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        by_connector = self._subscribers.get(charge_point_id)
        if not by_connector or self._stopping:
            return
        if not keys.isdisjoint(CHARGER_WIDE_KEYS):
            targets = [cb for callbacks in by_connector.values() for cb in callbacks]
        else:
            targets = list(by_connector.get(connector_id, ()))
        for target in targets:
            target(keys)

    # --- engine listener ----------------------------------------------------------------

    def charger_added(self, charge_point_id: str) -> None:
        """Create the device and entities of an accepted charger."""
        charger = self.central.chargers[charge_point_id]
        if charger.accepted:
            self._populate_charger(charger)

    def charger_pending(self, charge_point_id: str) -> None:
        """Ask the user, through a repair issue, whether to accept a charger."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            pending_issue_id(charge_point_id),
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="pending_charger",
            translation_placeholders={"charge_point_id": charge_point_id, "entry": self.entry.title},
            data={"entry_id": self.entry.entry_id, "charge_point_id": charge_point_id},
        )

    def connector_added(self, charge_point_id: str, connector_id: int) -> None:
        """Create a new connector's entities (and give connector 1 a device when needed)."""
        if connector_id == 2 and charge_point_id in self._populated:
            self._move_first_connector(charge_point_id)
        self._add(NewEntities(charge_point_id, connector_id))

    def meter_keys_added(self, charge_point_id: str, connector_id: int, keys: list[str]) -> None:
        """Create sensors for measurands seen for the first time."""
        self._add(NewEntities(charge_point_id, connector_id, tuple(keys)))

    def charger_changed(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        """Write the states of the entities that show what changed."""
        charger = self.central.chargers.get(charge_point_id)
        if charger is not None:
            if "registration" in keys and charger.accepted:
                ir.async_delete_issue(self.hass, DOMAIN, pending_issue_id(charge_point_id))
                self._populate_charger(charger)
            if "boot" in keys:
                self._update_device(charger)
        self._notify(charge_point_id, connector_id, keys)
        for hook in self.on_change:
            hook(charge_point_id, connector_id, keys)

    def transaction_started(self, transaction: Transaction) -> None:
        """Fire `ocpp_cs_transaction_started`."""
        self.hass.bus.async_fire(EVENT_TRANSACTION_STARTED, transaction_event(transaction))

    def transaction_stopped(self, transaction: Transaction) -> None:
        """Fire `ocpp_cs_transaction_stopped`."""
        record = self.central.history.get(transaction.charge_point_id, transaction.transaction_id)
        self.hass.bus.async_fire(EVENT_TRANSACTION_STOPPED, transaction_event(transaction, stopped=True, record=record))

    def id_tag_presented(self, event: IdTagPresented) -> None:
        """Fire `ocpp_cs_id_tag_presented`."""
        data: dict[str, Any] = {
            "charge_point_id": event.charge_point_id,
            "id_tag": event.id_tag,
            "status": event.status,
        }
        if event.connector_id is not None:
            data["connector_id"] = event.connector_id
        self.hass.bus.async_fire(EVENT_ID_TAG_PRESENTED, data)

    def data_transfer(self, event: DataTransferReceived) -> None:
        """Fire `ocpp_cs_data_transfer` so automations can handle vendor messages."""
        self.hass.bus.async_fire(
            EVENT_DATA_TRANSFER,
            {
                "charge_point_id": event.charge_point_id,
                "vendor_id": event.vendor_id,
                "message_id": event.message_id,
                "data": event.data,
            },
        )

    def security_event(self, event: SecurityEventReceived) -> None:
        """Fire `ocpp_cs_security_event` (the engine logged it)."""
        self.hass.bus.async_fire(
            EVENT_SECURITY_EVENT,
            {
                "charge_point_id": event.charge_point_id,
                "type": event.type,
                "timestamp": event.timestamp,
                "tech_info": event.tech_info,
            },
        )

    def certificate_signing_requested(self, event: CertificateSigningRequested) -> None:
        """Fire `ocpp_cs_sign_certificate` with the CSR, for whoever signs it (then `certificate_signed`)."""
        self.hass.bus.async_fire(EVENT_SIGN_CERTIFICATE, {"charge_point_id": event.charge_point_id, "csr": event.csr})
