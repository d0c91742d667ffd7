"""The `get_statement` action (issue 18): per id tag sessions, kWh and cost over a period.

A session belongs to the period its stop falls in (engine/costs/statements.py says why). The
answer is the statement; with `file: true` it is also written as CSV next to the history
exports (`<config>/ocpp_cs/exports/`), and the answer says where.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant, SupportsResponse
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util, slugify
import probatio as vol

from ..engine.costs import build_statement, render_csv
from ..errors import invalid
from .history import EXPORT_DIRECTORY, new_csv_path, period_end, period_start
from .targets import loaded_runtime, validated

_LOGGER = logging.getLogger(__name__)

STATEMENT_SCHEMA = vol.Schema(
    {
        vol.Required("config_entry_id"): cv.string,
        # A 2.0.1 idToken is up to 36 characters (1.6's idTag 20).
        vol.Optional("id_tag"): vol.All(cv.string, vol.Length(min=1, max=36)),
        vol.Required("start"): period_start,
        vol.Required("end"): period_end,
        vol.Optional("file", default=False): cv.boolean,
    }
)


def _write(directory: Path, stem: str, text: str) -> Path:
    """Write the statement's CSV under a new name (blocking: run in the executor)."""
    path = new_csv_path(directory, stem)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True, slots=True)
class StatementAction:
    """The `get_statement` action of an entry."""

    response: SupportsResponse = SupportsResponse.ONLY

    async def run(self, hass: HomeAssistant, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """Validate the fields, build the statement from the entry's history, answer (and write it)."""
        fields = validated(name, STATEMENT_SCHEMA, data)
        start, end = fields["start"], fields["end"]
        if start >= end:
            raise invalid("invalid_period", start=start.isoformat(), end=end.isoformat())
        runtime = loaded_runtime(hass, fields["config_entry_id"])
        if runtime is None:
            raise invalid("unknown_config_entry", config_entry_id=fields["config_entry_id"])
        id_tag = fields.get("id_tag")
        # The history compares id tags as IdToken does (case-insensitively).
        records = [record.as_answer() for record in runtime.hub.central.history.query(id_tag=id_tag)]
        statement = build_statement(records, start, end)
        answer = statement.as_answer()
        if fields["file"]:
            stem = f"statement_{slugify(id_tag or '') or 'all'}_{dt_util.now().strftime('%Y%m%d_%H%M%S')}"
            directory = Path(hass.config.path(*EXPORT_DIRECTORY))
            path = await hass.async_add_executor_job(_write, directory, stem, render_csv(statement))
            _LOGGER.info("Wrote the statement of %s sessions to %s", len(statement.sessions), path)
            answer["path"] = str(path)
        return answer
