"""File transfers at their edges: big and empty uploads, links that expire or run out, HEAD for a
firmware file, Home Assistant reachable only at its external URL, refused uploads and logs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ocpp_cs import transfers

from .charger import charger
from .conftest import EntryFactory, port_of
from .control_charger import CALLERROR
from .firmware_charger import FirmwareCharger
from .helpers import action, device_id, http_base, wait_for
from .test_file_transfer import booted, files_in

pytestmark = pytest.mark.usefixtures("config_dir")


def path_of(url: str) -> str:
    return urlsplit(url).path


async def test_big_and_empty_uploads_and_what_the_folder_lists(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client_no_auth: ClientSessionGenerator, config_dir: Path
) -> None:
    await setup_entry()
    client = await http_base(hass, hass_client_no_auth)
    big = bytes(range(256)) * 4096  # 1 MiB: written in chunks
    url, _ = transfers.upload_url(hass, "CP-1", transfers.KIND_DIAGNOSTICS)
    assert (await client.put(path_of(url) + "/big.log", data=big)).status == 201
    url, _ = transfers.upload_url(hass, "CP-1", transfers.KIND_LOG)
    assert (await client.put(path_of(url) + "/empty.log", data=b"")).status == 201
    folder = config_dir / "ocpp_cs" / "diagnostics" / "CP-1"
    # Kept with the time they came in before the name the charger gave.
    stored = {path.name.split("_", 1)[1]: path.read_bytes() for path in files_in(folder)}
    assert stored == {"big.log": big, "empty.log": b""}

    # What is not an upload (a hidden file, a folder) is not listed.
    (folder / ".partial").write_bytes(b"x")
    (folder / "sub").mkdir()
    listed = await hass.async_add_executor_job(transfers.list_uploads, hass, "CP-1")
    sizes = {item["name"].split("_", 1)[1]: item["size"] for item in listed}
    assert sizes == {"big.log": len(big), "empty.log": 0}


async def test_upload_links_run_out_oldest_first(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client_no_auth: ClientSessionGenerator
) -> None:
    await setup_entry()
    client = await http_base(hass, hass_client_no_auth)
    urls = [transfers.upload_url(hass, "CP-1", transfers.KIND_LOG)[0] for _ in range(transfers.MAX_TOKENS + 1)]
    assert (await client.put(path_of(urls[0]), data=b"late")).status == 404
    assert (await client.put(path_of(urls[1]), data=b"in time")).status == 201


async def test_a_firmware_link_answers_head_and_expires(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
    config_dir: Path,
    freezer: FrozenDateTimeFactory,
) -> None:
    await setup_entry()
    client = await http_base(hass, hass_client_no_auth)
    firmware = config_dir / "fw-2.0.bin"
    firmware.write_bytes(b"\x7fELF firmware")
    url = transfers.firmware_url(hass, "CP-1", firmware, lifetime=timedelta(hours=1))
    head = await client.head(path_of(url))
    assert head.status == 200
    assert head.headers["Content-Length"] == str(len(b"\x7fELF firmware"))
    freezer.tick(timedelta(hours=1, seconds=1))
    assert (await client.get(path_of(url))).status == 404


async def test_home_assistant_reachable_only_at_its_external_url(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await setup_entry()
    await http_base(hass, hass_client_no_auth)
    external = hass.config.internal_url
    hass.config.internal_url = None
    hass.config.external_url = external
    hass.config.api = None
    async with charger(port_of(entry), "CP-1", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp)
        await action(hass, "get_diagnostics", device_id=device_id(hass, "CP-1"))
        location = next(request["location"] for name, request in cp.received if name == "GetDiagnostics")
        assert location.startswith(f"{external}/api/ocpp_cs/upload/")
        assert "has no internal URL; chargers are sent to its external URL" in caplog.text
        await cp.transfers_done.wait()
        assert cp.uploads[-1][0] == 201


async def test_refused_requests_leave_no_upload_link_and_explicit_log_locations(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client_no_auth: ClientSessionGenerator
) -> None:
    entry = await setup_entry()
    client = await http_base(hass, hass_client_no_auth)
    async with charger(port_of(entry), "CP-1", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-1")
        # The charger fails GetDiagnostics: the link it was given no longer takes a file.
        cp.answers["GetDiagnostics"] = CALLERROR
        with pytest.raises(HomeAssistantError):
            await action(hass, "get_diagnostics", device_id=dev)
        location = next(request["location"] for name, request in cp.received if name == "GetDiagnostics")
        assert (await client.put(path_of(location), data=b"too late")).status == 404

        # A log to a location of the user's: passed on, and its refusal is an error as well.
        answer = await action(hass, "get_log", device_id=dev, log_type="diagnostics_log",
                              location="ftp://192.0.2.1/logs/", request_id=5)
        assert answer == {"status": "Accepted", "filename": "security.log", "request_id": 5}
        request = next(request for name, request in cp.received if name == "GetLog")
        assert request["log"]["remote_location"] == "ftp://192.0.2.1/logs/"
        cp.answers["GetLog"] = "Rejected"
        with pytest.raises(HomeAssistantError) as refused:
            await action(hass, "get_log", device_id=dev, location="ftp://192.0.2.1/logs/")
        assert refused.value.translation_key == "refused"


async def test_a_charger_that_does_not_say_its_protocols_gets_any_location(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()

    class QuietCharger(FirmwareCharger):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.configuration = [
                item for item in self.configuration if item["key"] != "SupportedFileTransferProtocols"
            ]

    async with charger(port_of(entry), "CP-1", cls=QuietCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp)
        answer = await action(hass, "get_diagnostics", device_id=device_id(hass, "CP-1"),
                              location="ftp://192.0.2.1/diag/")
        assert answer == {"file_name": "diagnostics-sim.log"}
        await wait_for(lambda: bool(cp.uploads), what="the upload attempt")
