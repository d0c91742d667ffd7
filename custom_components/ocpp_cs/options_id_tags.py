"""The options flow's id tag steps (the options flow is options_flow.py)."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult, OptionsFlow
from homeassistant.helpers import selector
from homeassistant.util import dt as dt_util
import probatio as vol

from .engine.state import ID_TAG_STATUSES, IdTag
from .engine.util import snake
from .flow_forms import (
    CONF_CHARGE_POINT_IDS,
    CONF_EXPIRY_DATE,
    CONF_ID_TAG,
    CONF_ID_TAGS,
    CONF_NAME,
    CONF_PARENT_ID_TAG,
    CONF_SINGLE_TRANSACTION,
    CONF_STATUS,
    ID_TAG_MAX_LENGTH,
    TEXT,
    select_field,
)
from .hub import OcppHub
from .runtime import OcppRuntime


class IdTagSteps(OptionsFlow):
    """The options flow's id tag steps: add, add a presented one, edit, remove."""

    # The id tag being edited (set by the options flow).
    _editing: str | None

    def _loaded_runtime(self) -> OcppRuntime | None:
        if self.config_entry.state is not ConfigEntryState.LOADED:
            return None
        runtime = getattr(self.config_entry, "runtime_data", None)
        return runtime if isinstance(runtime, OcppRuntime) else None

    def _loaded_hub(self) -> OcppHub | None:
        runtime = self._loaded_runtime()
        return runtime.hub if runtime is not None else None

    def _id_tag_schema(self, tag: IdTag | None, chargers: list[str] | None = None) -> vol.Schema:
        fields: dict[Any, Any] = {}
        if tag is None:
            fields[vol.Required(CONF_ID_TAG)] = TEXT
        fields.update(
            {
                vol.Optional(CONF_NAME): TEXT,
                vol.Required(CONF_STATUS, default="accepted"): select_field(
                    [snake(status) for status in ID_TAG_STATUSES], CONF_STATUS
                ),
                vol.Optional(CONF_EXPIRY_DATE): selector.DateTimeSelector(),
                vol.Optional(CONF_PARENT_ID_TAG): TEXT,
                # Which chargers the tag may use (none chosen = all); ids can be typed too.
                vol.Optional(CONF_CHARGE_POINT_IDS): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=chargers or [], multiple=True, custom_value=True)
                ),
                vol.Required(CONF_SINGLE_TRANSACTION, default=True): selector.BooleanSelector(),
            }
        )
        schema = vol.Schema(fields)
        if tag is None:
            return schema
        current = {
            CONF_NAME: tag.name,
            CONF_STATUS: snake(tag.status),
            CONF_EXPIRY_DATE: tag.expiry_date.isoformat() if tag.expiry_date else None,
            CONF_PARENT_ID_TAG: tag.parent_id_tag,
            CONF_CHARGE_POINT_IDS: list(tag.charge_point_ids),
        }
        suggested: dict[str, Any] = {k: v for k, v in current.items() if v}
        suggested[CONF_SINGLE_TRANSACTION] = tag.single_transaction
        return self.add_suggested_values_to_schema(schema, suggested)

    @staticmethod
    def _chargers(hub: OcppHub) -> list[str]:
        return sorted(cp for cp, charger in hub.central.chargers.items() if charger.accepted)

    def _save_tag(self, hub: OcppHub, id_tag: str, user_input: dict[str, Any]) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not 0 < len(id_tag) <= ID_TAG_MAX_LENGTH:
            errors[CONF_ID_TAG] = "id_tag_length"
        parent = (user_input.get(CONF_PARENT_ID_TAG) or "").strip() or None
        if parent is not None and len(parent) > ID_TAG_MAX_LENGTH:
            errors[CONF_PARENT_ID_TAG] = "id_tag_length"
        # The date-time selector lets only what parse_datetime reads through.
        expiry = dt_util.parse_datetime(str(user_input[CONF_EXPIRY_DATE])) if user_input.get(CONF_EXPIRY_DATE) else None
        if expiry is not None and expiry.tzinfo is None:
            # The date-time selector gives the local time without an offset.
            expiry = expiry.replace(tzinfo=dt_util.get_default_time_zone())
        if errors:
            return errors
        status = {snake(s): s for s in ID_TAG_STATUSES}[user_input.get(CONF_STATUS, "accepted")]
        hub.central.set_id_tag(
            IdTag(
                id_tag=id_tag,
                status=status,
                expiry_date=expiry,
                parent_id_tag=parent,
                name=(user_input.get(CONF_NAME) or "").strip() or None,
                charge_point_ids=tuple(
                    dict.fromkeys(cp.strip() for cp in user_input.get(CONF_CHARGE_POINT_IDS) or () if cp.strip())
                ),
                single_transaction=bool(user_input.get(CONF_SINGLE_TRANSACTION, True)),
            )
        )
        return errors

    async def async_step_add_id_tag(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add an id tag (or replace one with the same id)."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._save_tag(hub, str(user_input[CONF_ID_TAG]).strip(), user_input)
            if not errors:
                return self.async_create_entry(data=dict(self.config_entry.options))
        schema = self.add_suggested_values_to_schema(
            self._id_tag_schema(None, self._chargers(hub)), user_input or {}
        )
        return self.async_show_form(step_id="add_id_tag", data_schema=schema, errors=errors)

    async def async_step_add_presented_id_tag(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add id tags that chargers presented lately and the list lacks (the newest is preselected)."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        presented = [p for p in reversed(hub.central.auth.presented) if p.id_tag.casefold() not in hub.central.id_tags]
        if not presented:
            return self.async_abort(reason="no_presented_id_tags")
        if user_input is not None:
            status = {snake(s): s for s in ID_TAG_STATUSES}[user_input.get(CONF_STATUS, "accepted")]
            for id_tag in user_input.get(CONF_ID_TAGS, []):
                hub.central.set_id_tag(IdTag(id_tag=id_tag, status=status))
            return self.async_create_entry(data=dict(self.config_entry.options))
        options = [
            selector.SelectOptionDict(
                value=p.id_tag,
                label=f"{p.id_tag} ({p.charge_point_id}, {dt_util.as_local(p.timestamp):%Y-%m-%d %H:%M}, {p.status})",
            )
            for p in presented
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_ID_TAGS, default=[presented[0].id_tag]): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options, multiple=True)
                ),
                vol.Required(CONF_STATUS, default="accepted"): select_field(
                    [snake(status) for status in ID_TAG_STATUSES], CONF_STATUS
                ),
            }
        )
        return self.async_show_form(step_id="add_presented_id_tag", data_schema=schema)

    def _hub_with_id_tags(self) -> OcppHub | ConfigFlowResult:
        """Return the loaded entry's hub when it has id tags, else the abort that says why not."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        if not hub.central.id_tags:
            return self.async_abort(reason="no_id_tags")
        return hub

    async def async_step_edit_id_tag(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose an id tag to edit."""
        hub = self._hub_with_id_tags()
        if not isinstance(hub, OcppHub):
            return hub  # why not: not loaded, or no id tags
        if user_input is not None:
            self._editing = user_input[CONF_ID_TAG]
            return await self.async_step_edit_id_tag_details()
        options = [
            selector.SelectOptionDict(value=tag.id_tag, label=f"{tag.name} ({tag.id_tag})" if tag.name else tag.id_tag)
            for tag in hub.central.id_tags.values()
        ]
        schema = vol.Schema(
            {vol.Required(CONF_ID_TAG): selector.SelectSelector(selector.SelectSelectorConfig(options=options))}
        )
        return self.async_show_form(step_id="edit_id_tag", data_schema=schema)

    async def async_step_edit_id_tag_details(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Edit the chosen id tag."""
        hub = self._loaded_hub()
        if hub is None:
            return self.async_abort(reason="not_loaded")
        tag = hub.central.id_tags.get((self._editing or "").casefold())
        if tag is None:
            return self.async_abort(reason="unknown_id_tag")
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = self._save_tag(hub, tag.id_tag, user_input)
            if not errors:
                return self.async_create_entry(data=dict(self.config_entry.options))
        return self.async_show_form(
            step_id="edit_id_tag_details",
            data_schema=self._id_tag_schema(tag, self._chargers(hub)),
            errors=errors,
            description_placeholders={"id_tag": tag.id_tag},
        )

    async def async_step_remove_id_tag(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Remove id tags."""
        hub = self._hub_with_id_tags()
        if not isinstance(hub, OcppHub):
            return hub  # why not: not loaded, or no id tags
        if user_input is not None:
            for id_tag in user_input.get(CONF_ID_TAGS, []):
                hub.central.remove_id_tag(id_tag)
            return self.async_create_entry(data=dict(self.config_entry.options))
        options = [tag.id_tag for tag in hub.central.id_tags.values()]
        schema = vol.Schema(
            {
                vol.Required(CONF_ID_TAGS): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options, multiple=True)
                )
            }
        )
        return self.async_show_form(step_id="remove_id_tag", data_schema=schema)
