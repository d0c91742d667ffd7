"""The options' Prices step (issue 18): a price sensor or a fixed price, and a fee per session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import probatio as vol

from .const import CONF_FIXED_PRICE, CONF_PRICE_ENTITY, CONF_SESSION_FEE, PRICE_OPTIONS
from .engine.costs import current_price
from .flow_forms import optional_field

_AMOUNT = vol.All(vol.Coerce(float), vol.Range(min=0, max=1_000_000))


def prices_schema(config: Mapping[str, Any]) -> vol.Schema:
    """Return the Prices step's form, filled with the current values (every field optional)."""
    return vol.Schema(
        {
            optional_field(CONF_PRICE_ENTITY, config): selector.EntitySelector(
                selector.EntitySelectorConfig(domain="sensor")
            ),
            optional_field(CONF_FIXED_PRICE, config): _AMOUNT,
            optional_field(CONF_SESSION_FEE, config): _AMOUNT,
        }
    )


def validate_prices(hass: HomeAssistant, user_input: Mapping[str, Any]) -> dict[str, str]:
    """Check the Prices step; return form errors by field."""
    entity_id = user_input.get(CONF_PRICE_ENTITY)
    fixed = user_input.get(CONF_FIXED_PRICE)
    if entity_id and fixed is not None:
        return {"base": "price_source_both"}
    if user_input.get(CONF_SESSION_FEE) and not entity_id and fixed is None:
        return {CONF_SESSION_FEE: "fee_without_price"}
    if entity_id:
        state = hass.states.get(entity_id)
        # A sensor that is unavailable now (its integration still loading) is taken on trust.
        if state is None or (
            state.state not in ("unavailable", "unknown")
            and current_price(state.state, state.attributes) is None
        ):
            return {CONF_PRICE_ENTITY: "price_not_numeric"}
    return {}


def price_options(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Prices step's options as stored: every price key, None where left empty."""
    stored: dict[str, Any] = dict.fromkeys(PRICE_OPTIONS)
    stored.update({key: value for key, value in user_input.items() if value not in ("", None)})
    return stored


def kept_price_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Prices step's options of an entry: the Settings step keeps them as they are."""
    return {key: options[key] for key in PRICE_OPTIONS if key in options}
