"""Diagnostics and log uploads into Home Assistant's own HTTP server (OCPP 1.6 5.9, 4.4, chapter 8).

A simulated charger uploads over real HTTP to the URL the central system gives it; the
file lands under the config directory, shows in diagnostics and in a notification.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_device
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ocpp_cs import transfers
from custom_components.ocpp_cs.const import DOMAIN

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .firmware_charger import POST, PUT_WITH_NAME, FirmwareCharger
from .helpers import action, device_id, http_base, state, wait_for

pytestmark = pytest.mark.usefixtures("config_dir")




async def booted(hass: HomeAssistant, cp: FirmwareCharger) -> None:
    await cp.boot(firmware_version="1.0.0")
    await cp.status(0, "Available")
    await hass.async_block_till_done()
    # The configuration (SupportedFileTransferProtocols) is read after boot.
    await wait_for(lambda: ("GetConfiguration", {"key": None}) in cp.received, what="configuration read")
    await hass.async_block_till_done()


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_diagnostics_upload_put_lands_in_the_config_directory(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
    hass_client: ClientSessionGenerator,
    config_dir: Path,
) -> None:
    entry = await setup_entry()
    client = await http_base(hass, hass_client_no_auth, "diagnostics")
    async with charger(port_of(entry), "CP-D", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp)
        answer = await action(hass, "get_diagnostics", device_id=device_id(hass, "CP-D"), retries=2, retry_interval=30)
        assert answer == {"file_name": "diagnostics-sim.log"}
        request = next(r for a, r in cp.received if a == "GetDiagnostics")
        location = request["location"]
        assert location.startswith(f"{hass.config.internal_url}/api/ocpp_cs/upload/")
        assert request["retries"] == 2 and request["retry_interval"] == 30
        # One unguessable token per request.
        assert len(urlsplit(location).path.rsplit("/", 1)[-1]) >= 40

        await wait_for(lambda: state(hass, "CP-D_0_diagnostics_status") == "uploaded", what="uploaded")
        assert cp.uploads == [(201, location)]

    folder = config_dir / "ocpp_cs" / "diagnostics" / "CP-D"
    stored = files_in(folder)
    assert len(stored) == 1
    assert stored[0].name.endswith("_diagnostics-sim.log")
    assert stored[0].read_bytes() == cp.diagnostics_file

    # The token is used up: a second upload is refused.
    again = await client.put(urlsplit(location).path, data=b"again")
    assert again.status == 404

    # A notification links to the file; the link is signed, the view otherwise needs a login.
    notifications = persistent_notification._async_get_or_create_notifications(hass)
    notification = notifications[f"{DOMAIN}_diagnostics_CP-D"]
    assert "CP-D" in notification["title"]
    link = notification["message"].split("](", 1)[1].split(")", 1)[0]
    assert "authSig=" in link
    download = await client.get(link)
    assert download.status == 200
    assert await download.read() == cp.diagnostics_file
    unsigned = await client.get(link.split("?", 1)[0])
    assert unsigned.status == 401
    logged_in = await hass_client()
    assert (await logged_in.get(link.split("?", 1)[0])).status == 200
    # Nothing outside the charger folders is served (Home Assistant's own filter catches "..").
    assert (await logged_in.get("/api/ocpp_cs/files/CP-D/..%2F..%2Fsecrets.yaml")).status in (400, 404)
    assert (await logged_in.get("/api/ocpp_cs/files/CP-D/.hidden")).status == 404
    assert (await logged_in.get("/api/ocpp_cs/files/CP-D/missing.log")).status == 404

    # The charger's diagnostics list the file.
    diagnostics = await get_diagnostics_for_device(
        hass, hass_client, entry, dr.async_get(hass).async_get(device_id(hass, "CP-D"))
    )
    assert [f["name"] for f in diagnostics["uploaded_files"]] == [stored[0].name]
    assert diagnostics["uploaded_files"][0]["size"] == len(cp.diagnostics_file)
    assert diagnostics["diagnostics_status"] == "Uploaded"


@pytest.mark.parametrize("mode", [POST, PUT_WITH_NAME])
async def test_multipart_post_and_put_with_name_and_retention(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    monkeypatch.setattr(transfers, "KEEP_FILES", 2)
    entry = await setup_entry()
    await http_base(hass, hass_client_no_auth, "diagnostics")
    async with charger(port_of(entry), "CP-M", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        cp.upload_mode = mode
        await booted(hass, cp)
        for number in range(3):
            cp.diagnostics_file = f"upload {number}\n".encode()
            cp.transfers_done.clear()
            await action(hass, "get_diagnostics", device_id=device_id(hass, "CP-M"))
            await cp.transfers_done.wait()
        assert [status for status, _ in cp.uploads] == ([200] * 3 if mode == POST else [201] * 3)
    stored = files_in(config_dir / "ocpp_cs" / "diagnostics" / "CP-M")
    # Only the newest two are kept.
    assert sorted(p.read_bytes() for p in stored) == [b"upload 1\n", b"upload 2\n"]
    assert all(p.name.endswith("diagnostics-sim.log") for p in stored)


async def test_upload_limits_and_unknown_tokens(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transfers, "MAX_UPLOAD_BYTES", 1000)
    await setup_entry()
    client = await http_base(hass, hass_client_no_auth, "diagnostics")
    registry = transfers.transfers_of(hass)
    folder = config_dir / "ocpp_cs" / "diagnostics" / "CP-L"

    assert (await client.put("/api/ocpp_cs/upload/not-a-token", data=b"x")).status == 404
    assert (await client.get("/api/ocpp_cs/firmware/not-a-token/fw.bin")).status == 404

    token = registry.new_upload("CP-L", transfers.KIND_DIAGNOSTICS)
    # Declared too large: refused before reading.
    assert (await client.put(f"/api/ocpp_cs/upload/{token}", data=b"x" * 2000)).status == 413

    async def chunked() -> Any:
        for _ in range(4):
            yield b"y" * 400

    # Streamed without a length: refused once over the limit, nothing left behind.
    assert (await client.put(f"/api/ocpp_cs/upload/{token}", data=chunked())).status == 413
    assert files_in(folder) == []
    # A form without a file part.
    form = aiohttp.MultipartWriter("form-data")
    form.append("no file").set_content_disposition("form-data", name="comment")
    response = await client.post(f"/api/ocpp_cs/upload/{token}", data=form)
    assert response.status == 400
    assert files_in(folder) == []
    # The token still works for a proper upload, then never again; the name is made safe.
    response = await client.put(f"/api/ocpp_cs/upload/{token}/.%24evil name.log", data=b"ok")
    assert response.status == 201
    stored = files_in(folder)
    assert len(stored) == 1 and stored[0].name.endswith("_evil_name.log")
    assert (await client.put(f"/api/ocpp_cs/upload/{token}", data=b"ok")).status == 404

    # Expired tokens are refused.
    expired = registry.new_upload("CP-L", transfers.KIND_DIAGNOSTICS, lifetime=transfers.timedelta(seconds=-1))
    assert (await client.put(f"/api/ocpp_cs/upload/{expired}", data=b"late")).status == 404


async def test_get_diagnostics_input_and_refusals(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-V", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-V")

        # No URL of Home Assistant is known (no internal or external URL, no local IP): a clear
        # error, and no request sent.
        hass.config.api = None
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "get_diagnostics", device_id=dev)
        assert raised.value.translation_key == "no_url"
        assert not any(a == "GetDiagnostics" for a, _ in cp.received)

        await http_base(hass, hass_client_no_auth, "diagnostics")
        cases: list[tuple[dict[str, Any], str]] = [
            ({"location": "file:///etc/passwd"}, "invalid_location"),
            ({"location": "http:/nohost"}, "invalid_location"),
            ({"location": "sftp://host/x"}, "invalid_location"),
            ({"start_time": "2025-01-02T00:00:00", "stop_time": "2025-01-01T00:00:00"}, "transfer_period_invalid"),
            ({"retries": -1}, "invalid_field"),
        ]
        for data, key in cases:
            with pytest.raises(ServiceValidationError) as invalid:
                await action(hass, "get_diagnostics", device_id=dev, **data)
            assert invalid.value.translation_key == key, data

        # An explicit location is passed through, with the period in UTC.
        answer = await action(
            hass,
            "get_diagnostics",
            device_id=dev,
            location="ftp://user:pw@192.0.2.1/diag/",
            start_time="2025-01-01T00:00:00+01:00",
            stop_time="2025-01-02T00:00:00+01:00",
        )
        assert answer == {"file_name": "diagnostics-sim.log"}
        request = [r for a, r in cp.received if a == "GetDiagnostics"][-1]
        assert request["location"] == "ftp://user:pw@192.0.2.1/diag/"
        assert request["start_time"] == "2024-12-31T23:00:00.000Z"

        # A charger with no diagnostics answers without a file name: that is no error.
        cp.diagnostics_name = None
        assert await action(hass, "get_diagnostics", device_id=dev) == {}

        # A charger that speaks FTP only cannot use Home Assistant's HTTP upload.
        hub = hub_of(entry)
        from custom_components.ocpp_cs.engine.configuration import parse_configuration_keys

        hub.central.update_configuration(
            "CP-V",
            parse_configuration_keys([{"key": "SupportedFileTransferProtocols", "readonly": True, "value": "FTP"}]),
        )
        with pytest.raises(ServiceValidationError) as ftp_only:
            await action(hass, "get_diagnostics", device_id=dev)
        assert ftp_only.value.translation_key == "protocol_not_supported"

        # A charger without the Firmware Management profile.
        hub.central.update_configuration(
            "CP-V",
            parse_configuration_keys([{"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core"}]),
        )
        with pytest.raises(ServiceValidationError) as profile:
            await action(hass, "get_diagnostics", device_id=dev, location="ftp://192.0.2.1/")
        assert profile.value.translation_key == "feature_not_supported"


async def test_log_upload_and_log_status(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
    config_dir: Path,
) -> None:
    entry = await setup_entry()
    await http_base(hass, hass_client_no_auth, "diagnostics")
    async with charger(port_of(entry), "CP-LOG", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-LOG")
        answer = await action(hass, "get_log", device_id=dev, log_type="security_log", request_id=77)
        assert answer == {"status": "Accepted", "filename": "security.log", "request_id": 77}
        request = next(r for a, r in cp.received if a == "GetLog")
        assert request["log_type"] == "SecurityLog"
        assert request["log"]["remote_location"].startswith(f"{hass.config.internal_url}/api/ocpp_cs/upload/")
        await cp.transfers_done.wait()
        await wait_for(lambda: hub_of(entry).central.chargers["CP-LOG"].log_status == "Uploaded", what="log")

        cp.answers["GetLog"] = "Rejected"
        with pytest.raises(HomeAssistantError) as refused:
            await action(hass, "get_log", device_id=dev)
        assert refused.value.translation_key == "refused"
    stored = files_in(config_dir / "ocpp_cs" / "diagnostics" / "CP-LOG")
    assert [p.read_bytes() for p in stored] == [b"security log\n"]
    notifications = persistent_notification._async_get_or_create_notifications(hass)
    assert f"{DOMAIN}_log_CP-LOG" in notifications
