"""`aiplane gpu pack` as a user runs it: a real process, no server, no GPU."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT, run_cli

INVENTORY = str(ROOT / "examples" / "gpu-inventory.yaml")
DEMAND = str(ROOT / "examples" / "gpu-demand.yaml")


def _write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


def test_the_example_demand_fits_the_example_pool_and_json_lists_every_placement():
    result = run_cli("gpu", "pack", "--inventory", INVENTORY, "--demand", DEMAND, "--output", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["simulated"] is True and doc["unplaced"] == [] and doc["optimal"] is True
    assert len(doc["placements"]) == 12 and doc["gpus_total"] == 4
    assert set(doc["placements"][0]) == {"tenant", "deployment", "replica", "node", "gpu", "profile", "start"}
    assert doc["slices"]["total"] == 7 + 7 + 7 + 4
    table = run_cli("gpu", "pack", "--inventory", INVENTORY, "--demand", DEMAND)
    assert "Placements (simulated pool)" in table.stdout and f"GPUs used: {doc['gpus_used']} of 4" in table.stdout


def test_a_demand_larger_than_the_pool_is_placed_as_far_as_possible_and_the_rest_listed_with_reasons(tmp_path):
    demand = _write(tmp_path, "d.yaml", "replicas:\n  - {tenant: clinical, deployment: triage, profile: 3g.40gb, "
                                        "count: 8}\n")
    doc = json.loads(run_cli("gpu", "pack", "--inventory", INVENTORY, "--demand", demand, "-o", "json").stdout)
    assert len(doc["placements"]) == 6 and len(doc["unplaced"]) == 2
    reason = doc["unplaced"][0]["reason"]
    assert reason.startswith("mig-3g.40gb for clinical/triage#")
    assert "considered 4 GPUs" in reason and "node-b/1 (A30-24GB: A30-24GB has no 3g.40gb profile)" in reason


def test_an_unknown_profile_is_refused_listing_the_valid_ones(tmp_path):
    demand = _write(tmp_path, "d.yaml", "replicas:\n  - {tenant: a, deployment: b, profile: 3g.41gb}\n")
    result = run_cli("gpu", "pack", "--inventory", INVENTORY, "--demand", demand)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (f"error: {demand} line 2: replicas[0].profile MIG profile '3g.41gb' is not a profile of any supported "
            "GPU; valid profiles are 1g.6gb, ") in result.stderr


def test_an_inventory_typo_is_refused_naming_the_line_and_the_field(tmp_path):
    inv = _write(tmp_path, "inv.yaml", Path(INVENTORY).read_text().replace("{model: A30-24GB", "{modle: A30-24GB"))
    result = run_cli("gpu", "pack", "--inventory", inv, "--demand", DEMAND)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: {inv} line 11: nodes[1].gpus[1].modle is not a field; use model, count, mig, layout." \
        in result.stderr.replace("\n", " ")
