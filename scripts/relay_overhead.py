#!/usr/bin/env python3
"""What local controller mode adds to an answer: the same upstream, asked directly and through ocpp_cs.

    .venv/bin/python scripts/relay_overhead.py                  # engine-proxied and ha-proxied, 10 chargers
    .venv/bin/python scripts/relay_overhead.py --servers ha-proxied --rounds 2000

A paired measurement, so that the load of the machine (other processes) hits both sides alike:
a bare `ocpp` + `websockets` central system (the upstream, its own process) serves N chargers
connected to it directly and N chargers relayed to it by ocpp_cs (`engine-proxied`: the engine
alone; `ha-proxied`: Home Assistant with the integration; their own process), all booted and
charging. Then, round after round, one direct charger and one relayed charger send the same
MeterValues one after the other (in alternating order) and the answers' latencies are paired.
The median of the differences is what relaying adds to an answer (p50). Reuses scripts/bench's
servers and chargers (scripts/benchmark.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import statistics
import sys
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark


async def measure(kind: str, options: argparse.Namespace) -> dict[str, Any]:
    """Pair direct and relayed answers of one upstream; return the latencies and their differences."""
    relay = await benchmark.start_server(kind, argparse.Namespace(recorder=False))
    upstream = relay.__dict__["_upstream"]
    direct = [
        benchmark.Charger(f"ws://127.0.0.1:{upstream.port}/upstream", f"D-{i:03d}", seed=i)
        for i in range(options.chargers)
    ]
    relayed = [
        benchmark.Charger(f"ws://127.0.0.1:{relay.port}/upstream", f"P-{i:03d}", seed=i)
        for i in range(options.chargers)
    ]
    try:
        for charger in direct + relayed:
            await charger.warm_up()
        await benchmark.settle(relay, 1.0)
        differences: list[float] = []
        direct_ms: list[float] = []
        relayed_ms: list[float] = []
        for round_number in range(options.warm + options.rounds):
            index = round_number % options.chargers
            if round_number % 2:
                relayed_latency = await relayed[index].meter_values()
                direct_latency = await direct[index].meter_values()
            else:
                direct_latency = await direct[index].meter_values()
                relayed_latency = await relayed[index].meter_values()
            if round_number >= options.warm:
                direct_ms.append(direct_latency * 1000)
                relayed_ms.append(relayed_latency * 1000)
                differences.append((relayed_latency - direct_latency) * 1000)
            await asyncio.sleep(options.pause)
        errors = sum(charger.errors for charger in direct + relayed)
    finally:
        await asyncio.gather(*(charger.close() for charger in direct + relayed), return_exceptions=True)
        await relay.stop()
    differences.sort()
    direct_ms.sort()
    relayed_ms.sort()
    return {
        "server": kind,
        "chargers": options.chargers,
        "pairs": len(differences),
        "direct_p50_ms": round(statistics.median(direct_ms), 3),
        "relayed_p50_ms": round(statistics.median(relayed_ms), 3),
        "overhead_p50_ms": round(statistics.median(differences), 3),
        "overhead_p90_ms": round(benchmark.percentile(differences, 0.90), 3),
        "callerrors": errors,
    }


async def main(options: argparse.Namespace) -> int:
    rows = []
    for kind in [s for s in options.servers.split(",") if s]:
        print(f"{kind}: {options.chargers} direct + {options.chargers} relayed chargers, {options.rounds} pairs ...")
        rows.append(await measure(kind, options))
        print("  " + json.dumps(rows[-1]), flush=True)
    print(f"{'server':<16} {'pairs':>6} {'direct p50':>11} {'relayed p50':>12} {'overhead p50':>13} {'p90':>8}")
    for row in rows:
        print(
            f"{row['server']:<16} {row['pairs']:>6} {row['direct_p50_ms']:>11.3f} {row['relayed_p50_ms']:>12.3f} "
            f"{row['overhead_p50_ms']:>13.3f} {row['overhead_p90_ms']:>8.3f}"
        )
    return 0


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/relay_overhead.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="engine-proxied,ha-proxied", help="engine-proxied and/or ha-proxied")
    parser.add_argument("--chargers", type=int, default=10, help="relayed (and direct) chargers (default 10)")
    parser.add_argument("--rounds", type=int, default=1000, help="measured pairs (default 1000)")
    parser.add_argument("--warm", type=int, default=100, help="unmeasured pairs first (default 100)")
    parser.add_argument("--pause", type=float, default=0.01, help="seconds between pairs (default 0.01)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_arguments(sys.argv[1:]))))
