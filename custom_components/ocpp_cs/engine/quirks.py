"""Quirk profiles: recognising a known charger from its BootNotification, or as the user chose.

The table is engine/quirk_table.py, its types engine/quirk_model.py. The profile in force for a
charger is the user's choice (options flow, Charger settings): `auto` (the default) is the first
profile whose rules match the charger's BootNotification, `none` is no profile, and any
profile's name forces that profile. A stored name that a later version no longer knows counts
as `auto`. README's "Supported chargers" table is generated from the table (`markdown_table`).
"""

from __future__ import annotations

from functools import lru_cache

from .quirk_model import NO_QUIRKS, QUIRK_FLAGS, QuirkProfile, Quirks, markdown_table
from .quirk_table import PROFILES

__all__ = [
    "BY_NAME",
    "CHOICES",
    "NO_QUIRKS",
    "PROFILES",
    "QUIRKS_AUTO",
    "QUIRKS_NONE",
    "QUIRK_FLAGS",
    "QuirkProfile",
    "Quirks",
    "detect",
    "markdown_table",
    "resolve",
]

QUIRKS_AUTO = "auto"
QUIRKS_NONE = "none"
BY_NAME: dict[str, QuirkProfile] = {profile.name: profile for profile in PROFILES}
# What a user may pick for a charger: detected, none, or any profile.
CHOICES: tuple[str, ...] = (QUIRKS_AUTO, QUIRKS_NONE, *BY_NAME)


def detect(vendor: str | None, model: str | None, firmware: str | None) -> QuirkProfile | None:
    """Return the first profile whose rules match a BootNotification, None when none does."""
    for profile in PROFILES:
        if profile.matches(vendor, model, firmware):
            return profile
    return None


@lru_cache(maxsize=256)
def resolve(choice: str, vendor: str | None, model: str | None, firmware: str | None) -> QuirkProfile | None:
    """Return the profile in force: the chosen one, none, or (`auto`, an unknown name) the detected one."""
    if choice == QUIRKS_NONE:
        return None
    chosen = BY_NAME.get(choice)
    return chosen if chosen is not None else detect(vendor, model, firmware)
