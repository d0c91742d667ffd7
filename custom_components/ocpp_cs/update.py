"""The `firmware` update entity: installed firmware, and a file the user provided to install."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
import time
from typing import Any

from homeassistant.components.update import (
    UpdateDeviceClass,
    UpdateEntity,
    UpdateEntityDescription,
    UpdateEntityFeature,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_interval

from . import firmware, transfers
from .devices import NewEntities
from .entity import OcppEntity, OcppEntityDescription
from .errors import error, translate_errors
from .ports import EntityHub
from .runtime import OcppConfigEntry

PARALLEL_UPDATES = 0
# How often the firmware folder is looked at for new files (each entity keeps its own timer:
# a platform-wide poll outlives the entry when its last charger's device was removed).
FOLDER_CHECK_INTERVAL = timedelta(minutes=5)
# How long an install counts as in progress before the charger reports anything.
REQUEST_GRACE_SECONDS = 15 * 60

# FirmwareStatusNotification / SignedFirmwareStatusNotification statuses of an update under way.
IN_PROGRESS_STATUSES = frozenset(
    {
        "Downloading",
        "Downloaded",
        "Installing",
        "DownloadScheduled",
        "DownloadPaused",
        "InstallRebooting",
        "InstallScheduled",
        "SignatureVerified",
    }
)


@dataclass(frozen=True, kw_only=True)
class OcppUpdateDescription(UpdateEntityDescription, OcppEntityDescription):
    """The firmware update entity."""


FIRMWARE = OcppUpdateDescription(
    key="firmware",
    translation_key="firmware",
    device_class=UpdateDeviceClass.FIRMWARE,
    always_available=True,
    watch=frozenset({"boot", "firmware_status"}),
)


class FirmwareUpdate(OcppEntity, UpdateEntity):
    """Firmware from BootNotification; the newest file in the charger's (or model's) firmware folder."""

    entity_description: OcppUpdateDescription
    _attr_supported_features = UpdateEntityFeature.INSTALL | UpdateEntityFeature.PROGRESS

    def __init__(self, hub: EntityHub, charge_point_id: str) -> None:
        """Bind to the charger."""
        super().__init__(hub, charge_point_id, 0, FIRMWARE)
        self._file: Path | None = None
        self._requested_at: float | None = None

    @property
    def installed_version(self) -> str | None:
        """Return the firmware the charger reported in BootNotification."""
        return self.charger.boot.firmware_version

    @property
    def latest_version(self) -> str | None:
        """Return the version of the newest provided file, else the installed one (nothing to install)."""
        if self._file is None:
            return self.installed_version
        return transfers.version_of(self._file)

    @property
    def release_summary(self) -> str | None:
        """Name the file that would be installed."""
        return f"File: {self._file.name}" if self._file is not None else None

    @property
    def in_progress(self) -> bool:
        """Return True while FirmwareStatusNotification says an update is under way (or one was just sent)."""
        if self.charger.firmware_status in IN_PROGRESS_STATUSES:
            return True
        return self._requested_at is not None and time.monotonic() - self._requested_at < REQUEST_GRACE_SECONDS

    def _handle_change(self, keys: frozenset[str]) -> None:
        if "firmware_status" in keys:
            # The charger speaks for itself now.
            self._requested_at = None
        super()._handle_change(keys)

    async def async_added_to_hass(self) -> None:
        """Look for a firmware file before the first state is written, and every few minutes."""
        await super().async_added_to_hass()
        # Before the first look: the entity may be removed while the executor looks (an entry
        # unloaded at once), and a timer made after that would never be cancelled.
        self.async_on_remove(async_track_time_interval(self.hass, self._check_folder, FOLDER_CHECK_INTERVAL))
        await self.async_update()

    async def _check_folder(self, _now: datetime) -> None:
        await self.async_update()
        self.write_state()

    async def async_update(self) -> None:
        """Look for the newest firmware file for this charger or its model."""
        model = self.charger.boot.model
        self._file = await self.hass.async_add_executor_job(
            transfers.newest_firmware, self.hass, self.charge_point_id, model
        )

    @translate_errors
    async def async_install(self, version: str | None, backup: bool, **kwargs: Any) -> None:
        """Offer the newest file under a tokenised URL and send UpdateFirmware."""
        await self.async_update()
        if self._file is None:
            raise error(
                "no_firmware_file",
                charge_point_id=self.charge_point_id,
                folder=str(transfers.firmware_dir(self.hass) / transfers.charger_dir_name(self.charge_point_id)),
            )
        await firmware.update_firmware_file(self.hub, self.charge_point_id, self._file)
        self._requested_at = time.monotonic()
        self.write_state()


def build_updates(hub: EntityHub, new: NewEntities) -> Iterable[Entity]:
    """Return the firmware update entity of a new charger."""
    if new.connector_id == 0 and not new.meter_keys:
        yield FirmwareUpdate(hub, new.charge_point_id)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add a firmware update entity for every charger, now and as they appear."""
    entry.runtime_data.hub.register_platform(build_updates, async_add_entities)
