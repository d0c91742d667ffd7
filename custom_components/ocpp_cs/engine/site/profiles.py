"""Fail-safe charging profiles for the site controller's limits (OCPP 1.6 section 3.12, 7.8-7.14).

Two TxDefaultProfiles per steered connector:

- the *base* profile at `base_stack_level`, no expiry, holding `fallback_current`: what the
  charger does on its own when nobody steers it;
- the *steering* profile one stack level higher with the controller's limit, valid for
  `profile_ttl` only (`validTo`, and the schedule's `duration` for chargers that ignore
  `validTo`). The prevailing profile is the valid one with the highest stack level (3.12.2), so
  when Home Assistant stops, crashes or loses the charger, the steering profile runs out and the
  charger falls back to the base profile by itself. The controller sends it again `refresh_before`
  seconds before it runs out (`SiteConfig.refresh_interval`, a "refresh" decision).

A charger that allows no second stack level (ChargeProfileMaxStackLevel, or the `stack_level_zero`
quirk) gets one profile at the base level instead whose schedule ends in a period at
`fallback_current` that lasts indefinitely (7.13: the last period continues when `duration` is
absent): the same fail-safe without stacking.

Many chargers apply a TxDefaultProfile to new transactions only: `transaction_profile` builds the
running transaction's TxProfile the same way (TxProfiles must not carry validFrom/validTo, 7.8,
so its expiry is that fallback period too). A TxProfile overrides every TxDefaultProfile, so the
glue must replace or clear a connector's TxProfile when the controller takes the connector over.

Payloads are snake_case, as `ocpp.v16.call.SetChargingProfile(**payload)` takes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..smart_charging import PURPOSE_TX, PURPOSE_TX_DEFAULT, UNIT_A
from .model import ConnectorDecision, SiteConfig

# Profile ids of the site's profiles, per connector N: base + N (the manual limits use 1000 + N
# and 2000 + N, see smart_charging.py; ids only need to be unique per charger).
BASE_PROFILE_ID = 3000
STEERING_PROFILE_ID = 3100
TRANSACTION_PROFILE_ID = 3200


def ocpp_time(moment: datetime) -> str:
    """Return a DateTime the way OCPP writes it: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _period(start: int, limit: float, number_phases: int | None) -> dict[str, Any]:
    period: dict[str, Any] = {"start_period": start, "limit": round(max(0.0, limit), 1)}
    if number_phases is not None:
        period["number_phases"] = number_phases
    return period


@dataclass(frozen=True, slots=True, kw_only=True)
class FailSafe:
    """Builds one charger's site profiles; `from_config` takes the timing from the site config."""

    fallback_current: float
    profile_ttl: int = 480
    base_stack_level: int = 0
    # The charger's ChargeProfileMaxStackLevel (None: not reported, assumed high enough).
    max_stack_level: int | None = None
    stack_level_zero: bool = False  # the quirk: every profile at stack level 0

    @classmethod
    def from_config(
        cls,
        config: SiteConfig,
        *,
        base_stack_level: int = 0,
        max_stack_level: int | None = None,
        stack_level_zero: bool = False,
    ) -> FailSafe:
        """Return the builder for one charger of a site."""
        return cls(
            fallback_current=config.fallback_current,
            profile_ttl=int(config.profile_ttl),
            base_stack_level=0 if stack_level_zero else base_stack_level,
            max_stack_level=max_stack_level,
            stack_level_zero=stack_level_zero,
        )

    @property
    def stacked(self) -> bool:
        """Return True when the steering profile can sit one stack level above the base profile."""
        if self.stack_level_zero:
            return False
        return self.max_stack_level is None or self.base_stack_level + 1 <= self.max_stack_level

    def base_profile(self, connector_id: int) -> dict[str, Any]:
        """Return the SetChargingProfile payload of the base profile: `fallback_current`, no expiry."""
        profile = {
            "charging_profile_id": BASE_PROFILE_ID + connector_id,
            "stack_level": self.base_stack_level,
            "charging_profile_purpose": PURPOSE_TX_DEFAULT,
            "charging_profile_kind": "Absolute",
            "charging_schedule": {
                # A start in the past leaves no gap (3.12.2 note); no duration: it holds for good.
                "start_schedule": "2020-01-01T00:00:00Z",
                "charging_rate_unit": UNIT_A,
                "charging_schedule_period": [_period(0, self.fallback_current, None)],
            },
        }
        return {"connector_id": connector_id, "cs_charging_profiles": profile}

    def steering_profile(self, decision: ConnectorDecision, now: datetime) -> dict[str, Any]:
        """Return the SetChargingProfile payload that carries a decision, expiring `profile_ttl` from now."""
        ttl = self.profile_ttl
        schedule: dict[str, Any] = {"start_schedule": ocpp_time(now), "charging_rate_unit": UNIT_A}
        profile: dict[str, Any] = {
            "charging_profile_id": STEERING_PROFILE_ID + decision.connector_id,
            "charging_profile_purpose": PURPOSE_TX_DEFAULT,
            "charging_profile_kind": "Absolute",
            "charging_schedule": schedule,
        }
        if self.stacked:
            profile["stack_level"] = self.base_stack_level + 1
            profile["valid_to"] = ocpp_time(now + timedelta(seconds=ttl))
            schedule["duration"] = ttl
            schedule["charging_schedule_period"] = [_period(0, decision.limit, decision.number_phases)]
        else:
            profile["stack_level"] = self.base_stack_level
            schedule["charging_schedule_period"] = self._expiring_periods(decision)
        return {"connector_id": decision.connector_id, "cs_charging_profiles": profile}

    def transaction_profile(
        self, decision: ConnectorDecision, transaction_id: int | str, now: datetime
    ) -> dict[str, Any]:
        """Return the running transaction's TxProfile for a decision: its limit, then the fallback."""
        profile = {
            "charging_profile_id": TRANSACTION_PROFILE_ID + decision.connector_id,
            "transaction_id": transaction_id,
            "stack_level": self.base_stack_level + (1 if self.stacked else 0),
            "charging_profile_purpose": PURPOSE_TX,
            "charging_profile_kind": "Absolute",
            "charging_schedule": {
                "start_schedule": ocpp_time(now),
                "charging_rate_unit": UNIT_A,
                "charging_schedule_period": self._expiring_periods(decision),
            },
        }
        return {"connector_id": decision.connector_id, "cs_charging_profiles": profile}

    def _expiring_periods(self, decision: ConnectorDecision) -> list[dict[str, Any]]:
        """Return the decision's limit for `profile_ttl`, then `fallback_current` from then on."""
        fallback_phases = None if decision.number_phases is None else decision.phases
        return [
            _period(0, decision.limit, decision.number_phases),
            _period(self.profile_ttl, self.fallback_current, fallback_phases),
        ]


def refresh_due(config: SiteConfig, sent_at: float, now: float) -> bool:
    """Return True when a steering profile sent at `sent_at` must be sent again (it expires soon)."""
    return now - sent_at >= config.refresh_interval
