#!/usr/bin/env python3
"""
Seed a Home Assistant configuration directory with an ocpp_cs entry; keep whatever is there.

Used by scripts/develop (a config with the web UI and an owner user, on .develop/config) and
by scripts/crash_test (a bare one in a temporary folder). Run with the project's .venv:

    .venv/bin/python scripts/ha_config.py CONFIG_DIR [--ocpp-port 9000] [--http-port 8123]
        [--no-web-ui] [--owner LOGIN:PASSWORD]

The web server listens on 127.0.0.1 only. --no-web-ui leaves out the frontend and the panels
(Home Assistant starts quicker) and onboarding; without --owner no user is made.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
import sys
from types import MappingProxyType
from typing import Any
import zoneinfo

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "ocpp_cs"

# What the config flow's defaults create, bound to a port.
ENTRY_DATA: dict[str, Any] = {
    "new_chargers": "accept",
    "unknown_id_tags": "accept",
    "remote_id_tag": "HomeAssistant",
    "heartbeat_interval": 300,
}


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def local_time_zone() -> str:
    try:
        name = str(Path("/etc/localtime").resolve()).split("zoneinfo/", 1)[1]
        zoneinfo.ZoneInfo(name)
    except (IndexError, OSError, ValueError, zoneinfo.ZoneInfoNotFoundError):
        return "UTC"
    return name


# No default_config (it pulls in bluetooth, stream, ... whose packages are not installed); with the
# web UI, the integrations a developer needs around ocpp_cs instead. The web server (which ocpp_cs
# depends on) listens on 127.0.0.1 only.
def configuration_yaml(name: str, http_port: int, web_ui: bool, ocpp_log_level: str) -> str:
    # The web server's settings live in .storage/http since Home Assistant 2026.10 (seed_http):
    # YAML would be taken as a trial that reverts, after five minutes unconfirmed, to listening
    # on every interface.
    web = f"""
# The web server listens on 127.0.0.1:{http_port} (.storage/http, written by scripts/ha_config.py).
"""
    if web_ui:
        web += """
frontend:
config:
history:
logbook:
energy:
system_health:
"""
    return f"""# Written once by scripts/ha_config.py; edit freely, it is kept.
homeassistant:
  name: {name}
  unit_system: metric
  time_zone: {local_time_zone()}
  currency: EUR
  country: DE
{web}
logger:
  default: warning
  logs:
    homeassistant.bootstrap: info
    homeassistant.setup: info
    custom_components.ocpp_cs: {ocpp_log_level}
"""


def seed_http(storage: Path, http_port: int) -> None:
    """Write the web server's settings (127.0.0.1 and the port) as Home Assistant keeps them."""
    from homeassistant.components.http.config import (
        HTTP_STORAGE_SCHEMA,
        STORAGE_KEY as HTTP_KEY,
        STORAGE_MINOR_VERSION as HTTP_MINOR,
        STORAGE_VERSION as HTTP_VERSION,
    )
    from homeassistant.util import dt as dt_util

    http_file = storage / HTTP_KEY
    if http_file.exists():
        return
    stable = {
        **HTTP_STORAGE_SCHEMA({"server_host": ["127.0.0.1"], "server_port": http_port}),
        "created_at": dt_util.utcnow().isoformat(),
        "error": None,
        "error_message": None,
    }
    write_json(http_file, {
        "version": HTTP_VERSION,
        "minor_version": HTTP_MINOR,
        "key": HTTP_KEY,
        "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
    })
    print(f"  wrote {http_file} (127.0.0.1:{http_port})")


def seed_files(
    config: Path,
    *,
    name: str,
    ocpp_port: int,
    http_port: int,
    web_ui: bool,
    host: str = "0.0.0.0",
    ocpp_log_level: str = "debug",
) -> str:
    """Write configuration.yaml, link the integration, add the entry; return the entry's id."""
    config = config.resolve()
    storage = config / ".storage"
    storage.mkdir(parents=True, exist_ok=True)

    yaml = config / "configuration.yaml"
    if not yaml.exists():
        yaml.write_text(configuration_yaml(name, http_port, web_ui, ocpp_log_level))
        print(f"  wrote {yaml}")
    seed_http(storage, http_port)

    # custom_components/ocpp_cs -> the working tree (relative, so the link survives moving the repo).
    custom = config / "custom_components"
    custom.mkdir(exist_ok=True)
    link = custom / "ocpp_cs"
    if not link.is_symlink() and not link.exists():
        link.symlink_to(os.path.relpath(INTEGRATION.resolve(), custom))
        print(f"  linked {link} -> {os.readlink(link)}")
    elif link.resolve() != INTEGRATION.resolve():
        print(f"  warning: {link} is not a link to {INTEGRATION}; Home Assistant loads that copy", file=sys.stderr)

    from homeassistant.config_entries import (
        SOURCE_USER,
        STORAGE_KEY as ENTRIES_KEY,
        STORAGE_VERSION as ENTRIES_VERSION,
        STORAGE_VERSION_MINOR as ENTRIES_MINOR,
        ConfigEntry,
    )

    entries_file = storage / ENTRIES_KEY
    if entries_file.exists():
        stored = json.loads(entries_file.read_text())
    else:
        stored = {"version": ENTRIES_VERSION, "minor_version": ENTRIES_MINOR, "key": ENTRIES_KEY, "data": {"entries": []}}
    existing = [entry for entry in stored["data"]["entries"] if entry.get("domain") == "ocpp_cs"]
    if existing:
        entry_id = str(existing[0]["entry_id"])
    else:
        entry = ConfigEntry(
            version=1,
            minor_version=1,
            domain="ocpp_cs",
            title=f"OCPP Central System :{ocpp_port}",
            data={"host": host, "port": ocpp_port, **ENTRY_DATA},
            options={},
            source=SOURCE_USER,
            unique_id=str(ocpp_port),
            discovery_keys=MappingProxyType({}),
            subentries_data=None,
        )
        stored["data"]["entries"].append(entry.as_dict())
        write_json(entries_file, stored)
        entry_id = entry.entry_id
        print(f"  added the ocpp_cs config entry (port {ocpp_port}) to {entries_file}")

    if web_ui:
        # Onboarding done, so the UI goes straight to the login page.
        from homeassistant.components.onboarding import (
            STORAGE_KEY as ONBOARDING_KEY,
            STORAGE_VERSION as ONBOARDING_VERSION,
        )
        from homeassistant.components.onboarding.const import STEPS

        onboarding_file = storage / ONBOARDING_KEY
        onboarding = (
            json.loads(onboarding_file.read_text())
            if onboarding_file.exists()
            else {"version": ONBOARDING_VERSION, "minor_version": 1, "key": ONBOARDING_KEY, "data": {"done": []}}
        )
        if set(STEPS) - set(onboarding["data"]["done"]):
            done = onboarding["data"]["done"]
            onboarding["data"]["done"] = [*done, *(s for s in STEPS if s not in done)]
            write_json(onboarding_file, onboarding)
            print(f"  marked onboarding done in {onboarding_file}")
    return entry_id


async def seed_owner(config: Path, username: str, password: str) -> None:
    """Make the owner user as onboarding's user step does (admin group, owner, password login)."""
    from homeassistant.auth import auth_manager_from_config
    from homeassistant.auth.const import GROUP_ID_ADMIN
    from homeassistant.auth.providers import homeassistant as hass_auth
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr, entity_registry as er

    hass = HomeAssistant(str(config.resolve()))
    dr.async_setup(hass)  # as bootstrap does since Home Assistant 2026.10 (else "Device registry not set up")
    await asyncio.gather(dr.async_load(hass), er.async_load(hass))
    hass.auth = await auth_manager_from_config(hass, [{"type": "homeassistant"}], [])
    provider = hass.auth.auth_providers[0]
    await provider.async_initialize()
    users = [user for user in await hass.auth.async_get_users() if not user.system_generated]
    if not users:
        with contextlib.suppress(hass_auth.InvalidUser):  # the login exists without a user: link it
            provider.data.add_auth(username, password)
        await provider.data.async_save()
        owner = await hass.auth.async_create_user("Developer", group_ids=[GROUP_ID_ADMIN])
        credentials = await provider.async_get_or_create_credentials({"username": username})
        await hass.auth.async_link_user(owner, credentials)
        print(f"  created the owner user (login {username} / {password})")
    # force: this HomeAssistant never started, and only its final write saves the users.
    await hass.async_stop(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path)
    parser.add_argument("--name", default="ocpp_cs development")
    parser.add_argument("--ocpp-port", type=int, default=9000)
    parser.add_argument("--http-port", type=int, default=8123)
    parser.add_argument("--no-web-ui", dest="web_ui", action="store_false")
    parser.add_argument("--owner", metavar="LOGIN:PASSWORD")
    args = parser.parse_args()
    args.config.mkdir(parents=True, exist_ok=True)
    seed_files(args.config, name=args.name, ocpp_port=args.ocpp_port, http_port=args.http_port, web_ui=args.web_ui)
    if args.owner:
        username, _, password = args.owner.partition(":")
        asyncio.run(seed_owner(args.config, username, password))


if __name__ == "__main__":
    main()
