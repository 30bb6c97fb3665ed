"""The conversion that lets Checkov scan a stack (the scan itself runs in `make scan`)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from offline.preview import document
from offline.render.harness import Rendering
from services import CATALOG

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "checkov_scan.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("checkov_scan", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["checkov_scan"] = module
    spec.loader.exec_module(module)
    return module


checkov_scan = _load()


def plan_of(rendering: Rendering) -> dict[str, Any]:
    doc = json.loads(document.dumps(rendering))
    conversion = checkov_scan.Converter(doc).convert()
    return checkov_scan.terraform_plan(doc, conversion)


def test_every_provider_resource_becomes_a_terraform_resource(prod: Rendering) -> None:
    plan = plan_of(prod)
    resources = plan["planned_values"]["root_module"]["resources"]
    types = [r["type"] for r in resources]
    assert types.count("aws_ecs_task_definition") == len(CATALOG)
    assert types.count("aws_ecs_service") == len(CATALOG)
    assert "aws_wafv2_web_acl_rule" not in types  # folded into the web ACL's rule blocks
    providers = [r for r in prod.resources if r.custom and r.type != "awsx:ec2:Vpc"]
    rules = [r for r in prod.resources if r.type == "aws:wafv2/webAclRule:WebAclRule"]
    assert len(resources) == len(providers) - len(rules)


def test_blocks_and_names_follow_terraform(prod: Rendering) -> None:
    resources = plan_of(prod)["planned_values"]["root_module"]["resources"]
    service = next(
        r
        for r in resources
        if r["type"] == "aws_ecs_service" and r["values"]["name"] == "api-gateway"
    )
    values = service["values"]
    assert values["network_configuration"][0]["assign_public_ip"] is False
    assert [s["capacity_provider"] for s in values["capacity_provider_strategy"]] == ["FARGATE"]
    acl = next(r for r in resources if r["type"] == "aws_wafv2_web_acl")
    assert len(acl["values"]["rule"]) == 3
