"""AuthorizationKey is the charger's password (OCPP 1.6 security whitepaper), whichever action changes it."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from websockets.exceptions import InvalidStatus

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .helpers import action, device_id
from .test_control import booted
from .test_security_profile3 import KeyCharger, basic

ENTRY_PASSWORD = "entry-password-1"


async def connects(port: int, password: str) -> bool:
    """Return True when CP-K gets in with the password (and boots), False when it is refused (401)."""
    try:
        async with charger(port, "CP-K", cls=KeyCharger, **basic("CP-K", password)) as cp:
            assert (await cp.boot()).status == "Accepted"
    except InvalidStatus as refused:
        assert refused.response.status_code == 401
        return False
    return True


async def test_change_configuration_of_authorization_key_changes_the_password(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(password=ENTRY_PASSWORD)
    port = port_of(entry)
    central = hub_of(entry).central
    new_password = "key-password-0001"
    async with charger(port, "CP-K", cls=KeyCharger, **basic("CP-K", ENTRY_PASSWORD)) as cp:
        assert isinstance(cp, KeyCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-K")

        # A value the charger could take but we could not check is refused before it is sent.
        for value, key in (
            ("key-password-0001", "authorization_key_not_hex"),
            ("abc", "authorization_key_not_hex"),
            (b"nine-byte".hex(), "authorization_key_length"),
            (b"twenty-one-bytes-long".hex(), "authorization_key_length"),
            ("ff" * 16, "authorization_key_binary"),
        ):
            with pytest.raises(ServiceValidationError) as raised:
                await action(hass, "change_configuration", device_id=dev, key="AuthorizationKey", value=value)
            assert raised.value.translation_key == key, value
        assert raised.value.translation_placeholders == {}
        assert not any(name == "ChangeConfiguration" for name, _ in cp.received)

        # Refused by the charger: the password stays.
        cp.answers["ChangeConfiguration"] = "Rejected"
        with pytest.raises(HomeAssistantError) as refused:
            await action(
                hass, "change_configuration", device_id=dev, key="AuthorizationKey", value=new_password.encode().hex()
            )
        assert refused.value.translation_key == "refused"
        assert central.password_of("CP-K") is None
        cp.answers.pop("ChangeConfiguration")

        value = new_password.encode().hex().upper()  # either case of hexadecimal digits
        answer = await action(hass, "change_configuration", device_id=dev, key="AuthorizationKey", value=value)
        assert answer == {"status": "Accepted"}
        assert ("ChangeConfiguration", {"key": "AuthorizationKey", "value": value}) in cp.received
        assert central.password_of("CP-K") == new_password
        # The secret is not kept among the configuration values (persisted, shown in diagnostics).
        assert central.chargers["CP-K"].configuration["AuthorizationKey"].value == "********"

    # The old password works until the charger has connected with the one its new key stands for.
    assert await connects(port, ENTRY_PASSWORD)
    assert await connects(port, new_password)
    assert not await connects(port, ENTRY_PASSWORD)


async def test_call_of_change_configuration_changes_the_password(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(password=ENTRY_PASSWORD)
    port = port_of(entry)
    central = hub_of(entry).central
    new_password = "call-password-0002"
    async with charger(port, "CP-K", cls=KeyCharger, **basic("CP-K", ENTRY_PASSWORD)) as cp:
        assert isinstance(cp, KeyCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-K")
        with pytest.raises(ServiceValidationError) as raised:
            await action(
                hass, "call", device_id=dev, action="ChangeConfiguration",
                payload={"key": "AuthorizationKey", "value": "0011223344556677AABB"},
            )
        assert raised.value.translation_key == "authorization_key_length"
        assert raised.value.translation_placeholders == {"length": "10", "minimum": "16", "maximum": "20"}
        assert not any(name == "ChangeConfiguration" for name, _ in cp.received)

        # Configuration keys are case-insensitive; RebootRequired: the charger took it for its next start.
        cp.answers["ChangeConfiguration"] = "RebootRequired"
        answer = await action(
            hass, "call", device_id=dev, action="ChangeConfiguration",
            payload={"key": "authorizationkey", "value": new_password.encode().hex()},
        )
        assert answer == {"status": "RebootRequired"}
        assert central.password_of("CP-K") == new_password
        assert central.previous_password_of("CP-K") == ENTRY_PASSWORD

    assert await connects(port, new_password)
    assert not await connects(port, ENTRY_PASSWORD)


async def test_set_charger_password_follows_the_whitepaper(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(password=ENTRY_PASSWORD)
    port = port_of(entry)
    central = hub_of(entry).central
    async with charger(port, "CP-K", cls=KeyCharger, **basic("CP-K", ENTRY_PASSWORD)) as cp:
        assert isinstance(cp, KeyCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-K")
        # 16 to 20 bytes: counted in UTF-8, so twelve umlauts (24 bytes) are too many.
        for password, length in (("fifteen-bytes!!", 15), ("twenty-one-bytes-long", 21), ("ä" * 12, 24)):
            with pytest.raises(ServiceValidationError) as raised:
                await action(hass, "set_charger_password", device_id=dev, password=password)
            assert raised.value.translation_key == "invalid_password_length"
            assert raised.value.translation_placeholders == {"length": str(length), "minimum": "16", "maximum": "20"}
        assert not any(name == "ChangeConfiguration" for name, _ in cp.received)

        password = "pässwort-päss-12"  # 16 characters, 18 bytes
        answer = await action(hass, "set_charger_password", device_id=dev, password=password)
        assert answer == {"status": "Accepted", "pushed": True}
        assert ("ChangeConfiguration", {"key": "AuthorizationKey", "value": password.encode().hex()}) in cp.received
        assert central.password_of("CP-K") == password

    assert await connects(port, password)
    assert not await connects(port, ENTRY_PASSWORD)
