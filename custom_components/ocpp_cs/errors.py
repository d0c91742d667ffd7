"""Translated errors: the one place ocpp_cs builds the exceptions users read.

Every message lives in translations/en.json under `exceptions`; code names a key and its
placeholders. `translated` builds any Home Assistant exception class that takes a translation
(HomeAssistantError, ServiceValidationError, ConfigEntryNotReady, ...); `error` and `invalid`
are its two common cases. `translate_errors` is the decorator for action handlers and entity
methods: the engine's validation errors (`ProfileError`, `AuthorizationKeyError`, which name a
rule with `key`) become translated ServiceValidationErrors there, so no handler spells it out.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN
from .engine.configuration import AuthorizationKeyError
from .engine.smart_charging import ProfileError

# Engine errors that name the broken rule (`key`) and its values (`placeholders`).
KEYED_ERRORS = (AuthorizationKeyError, ProfileError)


def _texts(placeholders: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in placeholders.items()}


def translated[E: HomeAssistantError](key: str, cls: type[E], **placeholders: Any) -> E:
    """Return an exception of `cls` with the translation `key` and its placeholders as text."""
    return cls(translation_domain=DOMAIN, translation_key=key, translation_placeholders=_texts(placeholders))


def error(key: str, **placeholders: Any) -> HomeAssistantError:
    """Return a translated HomeAssistantError (the charger or the system failed)."""
    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=_texts(placeholders)
    )


def invalid(key: str, **placeholders: Any) -> ServiceValidationError:
    """Return a translated ServiceValidationError (the user's input is wrong)."""
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=_texts(placeholders)
    )


def invalid_from(err: AuthorizationKeyError | ProfileError) -> ServiceValidationError:
    """Return the ServiceValidationError of an engine error that names its rule."""
    return invalid(err.key, **err.placeholders)


def translate_errors[**P, R](func: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Decorate an action handler or entity method: engine validation errors become translated."""

    @wraps(func)
    async def handler(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except KEYED_ERRORS as err:
            raise invalid_from(err) from err

    return handler
