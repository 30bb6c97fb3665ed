"""Prices (prices/<region>.json, each with its AWS pricing page and the day it was read) and
usage assumptions (cost_assumptions.yaml, which a stack overrides under `cost.*`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from config.schema import CostConfig
from offline.estimates.cost.model import Assumption, CostError, Price, PriceBook
from offline.render.harness import Rendering

PRICES_DIR = Path(__file__).with_name("prices")
ASSUMPTIONS_PATH = Path(__file__).with_name("cost_assumptions.yaml")


def price_files(prices_dir: Path = PRICES_DIR) -> list[str]:
    return sorted(path.name for path in prices_dir.glob("*.json"))


def load_prices(region: str, prices_dir: Path = PRICES_DIR) -> PriceBook:
    path = prices_dir / f"{region}.json"
    if not path.is_file():
        files = ", ".join(price_files(prices_dir)) or "none"
        raise CostError(
            f"no price file for region {region}: {path} does not exist (price files: {files})"
        )
    document = json.loads(path.read_text())
    prices = {
        key: Price(
            key=key,
            usd=entry["usd"],
            unit=entry["unit"],
            source=entry["source"],
            read=entry["read"],
            not_priced=entry.get("notPriced"),
        )
        for key, entry in document["prices"].items()
    }
    return PriceBook(region=region, path=path, prices=prices)


def load_assumptions(
    overrides: Mapping[str, float] | None = None, path: Path = ASSUMPTIONS_PATH
) -> dict[str, Assumption]:
    document = yaml.safe_load(path.read_text())
    overrides = overrides or {}
    return {
        key: Assumption(
            key=key,
            value=float(overrides.get(key, entry["value"])),
            unit=str(entry["unit"]),
            description=" ".join(str(entry["description"]).split()),
            origin="stack config" if key in overrides else "default",
        )
        for key, entry in document.items()
    }


def config_overrides(rendering: Rendering) -> dict[str, float]:
    """The stack's `cost.*` keys, through the config schema's model (which the program has
    already checked when it rendered)."""
    raw = rendering.config.get(f"{rendering.project}:cost")
    if not raw:
        return {}
    parsed = CostConfig.model_validate(json.loads(raw))
    return {k: float(v) for k, v in parsed.model_dump(by_alias=True, exclude_none=True).items()}


def region_of(rendering: Rendering) -> str:
    region = rendering.config.get("aws:region")
    if not region:
        raise CostError(f"stack '{rendering.stack}' sets no aws:region, so it cannot be priced")
    return region
