import pytest
from custom_components.ocpp_cs.engine.central import CentralSystem
from . import test_lifecycle

@pytest.fixture(autouse=True)
def patch_remove(monkeypatch):
    orig = CentralSystem.remove_charger
    def remove(self, cp_id):
        orig(self, cp_id)
        self._listener._populated.discard(cp_id)
    monkeypatch.setattr(CentralSystem, "remove_charger", remove)

async def test_probe(hass, setup_entry, hass_ws_client):
    await test_lifecycle.test_removed_charger_comes_back_as_new(hass, setup_entry, hass_ws_client)
