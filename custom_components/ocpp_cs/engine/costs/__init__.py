"""Costs and plans (issue 18): prices, session costs, statements, cost display, the `plan` mode.

The engine part, without Home Assistant; the glue feeds it plain values:
- `prices`: a price sensor's state and attributes -> the price now and a forecast timeline.
- `accounting`: a `CostLedger` per entry; the glue records price changes into its `PriceLog`,
  and the session's start, Energy.Active.Import.Register readings and stop; the stop's
  `SessionCost` (rounded to the cent, `first=False` on a replay) goes into the history record.
- `statements`: per id tag sessions, kWh and cost over a period from history records, and CSV.
- `display`: the DataTransfer messages that show the tariff and the final cost on a charger.
- `plan`: the `plan` charging mode's planner and how the site controller uses it.
"""

from .accounting import CENT, CostLedger, PriceLog, SessionCost, energy_cost
from .display import CostMessage, final_cost, price_text, running_cost, set_user_price, supports_cost_display
from .plan import Plan, PlanInput, PlannedInterval, Planner, make_plan, steer_plan
from .prices import PriceInterval, current_price, fixed_timeline, parse_forecast, price_at, to_decimal, unit_factor
from .statements import Statement, TagTotals, build_statement, render_csv

__all__ = [
    "CENT",
    "CostLedger",
    "CostMessage",
    "Plan",
    "PlanInput",
    "PlannedInterval",
    "Planner",
    "PriceInterval",
    "PriceLog",
    "SessionCost",
    "Statement",
    "TagTotals",
    "build_statement",
    "current_price",
    "energy_cost",
    "final_cost",
    "fixed_timeline",
    "make_plan",
    "parse_forecast",
    "price_at",
    "price_text",
    "render_csv",
    "running_cost",
    "set_user_price",
    "steer_plan",
    "supports_cost_display",
    "to_decimal",
    "unit_factor",
]
