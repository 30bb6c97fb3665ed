"""p50/p99 of `POST /orders` through the gateway of the local system (`make local`'s), at a
given concurrency: one user, then `--count` orders, `--concurrency` at a time, each with its own
Idempotency-Key. Prints one JSON line. Everything on 127.0.0.1; bounded in count and time.

    .venv/bin/python scripts/bench_orders.py --count 500 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local import LocalSystem

TIMEOUT = 10.0
TOTAL_LIMIT = 300.0


async def run(url: str, count: int, concurrency: int, warmup: int) -> dict[str, object]:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        user = await client.post("/users", json={"name": "Bench", "email": "bench@example.com"})
        user.raise_for_status()
        user_id = user.json()["id"]
        await asyncio.sleep(1.0)  # the user's event reaches order-service's view, if it has one

        async def one(number: int) -> tuple[int, float]:
            async with limit:
                started = time.perf_counter()
                answer = await client.post(
                    "/orders",
                    json={"userId": user_id, "items": [{"sku": f"sku-{number}", "quantity": 1}]},
                    headers={"Idempotency-Key": f"bench-{uuid.uuid4()}"},
                )
                return answer.status_code, time.perf_counter() - started

        await asyncio.gather(*(one(n) for n in range(warmup)))
        started = time.perf_counter()
        results = await asyncio.gather(*(one(n) for n in range(count)))
        wall = time.perf_counter() - started
    durations = sorted(seconds for _, seconds in results)
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "count": count,
        "concurrency": concurrency,
        "statuses": statuses,
        "p50_ms": round(statistics.median(durations) * 1000, 1),
        "p99_ms": round(durations[int(0.99 * (len(durations) - 1))] * 1000, 1),
        "wall_s": round(wall, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs, LocalSystem(log_dir=Path(logs)) as system:
        result = asyncio.run(
            asyncio.wait_for(
                run(system.gateway_url, args.count, args.concurrency, args.warmup), TOTAL_LIMIT
            )
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
