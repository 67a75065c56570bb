"""Declared inventories: the pool they describe, and one sentence naming the line and field of a mistake."""

from __future__ import annotations

import pytest

from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu import geometry, inventory
from aiplane.domain.gpu.pool import GpuId

GOOD = """\
simulated: true
nodes:
  - name: node-a
    gpus:
      - {model: A100-80GB, count: 2, mig: true}
      - model: A100-80GB
        layout: [3g.40gb@0, 3g.40gb@4]
  - name: node-b
    gpus:
      - {model: H100-80GB, mig: false}
      - {model: A100-PCIE-40GB}
"""


def test_a_declared_inventory_lists_every_gpu_with_its_node_index_model_and_layout():
    inv = inventory.parse(GOOD, "pool.yaml")
    assert inv.simulated and inv.label == "simulated"
    assert [(str(g.id), g.model.name, g.mig) for g in inv.gpus] == [
        ("node-a/0", "A100-80GB", True), ("node-a/1", "A100-80GB", True), ("node-a/2", "A100-80GB", True),
        ("node-b/0", "H100-80GB", False), ("node-b/1", "A100-SXM4-40GB", True)]
    assert [(i.profile, i.start, i.owner) for i in inv.gpu(GpuId("node-a", 2)).instances] == [
        ("3g.40gb", 0, None), ("3g.40gb", 4, None)]


@pytest.mark.parametrize("text, message", [
    (GOOD.replace("count: 2", "cuont: 2"),
     "pool.yaml line 5: nodes[0].gpus[0].cuont is not a field; use model, count, mig, layout."),
    (GOOD.replace("      - model: A100-80GB\n", "      - model: A100-80G\n"),
     "pool.yaml line 6: nodes[0].gpus[1].model is 'A100-80G', not a known GPU model; use one of A30-24GB, "),
    (GOOD.replace("3g.40gb@4", "3g.40gb@2"),
     "pool.yaml line 7: nodes[0].gpus[1].layout is not a valid layout: node-a/2: 3g.40gb cannot start at slice 2"),
    (GOOD.replace("3g.40gb@4", "3g.20gb@4"),
     "pool.yaml line 7: nodes[0].gpus[1].layout MIG profile '3g.20gb' does not exist on A100-80GB; its profiles are "),
    (GOOD.replace("mig: false", "mig: maybe"), "pool.yaml line 10: nodes[1].gpus[0].mig is 'maybe'; give true or false."),
    (GOOD.replace("simulated: true", "simulate: true"), "pool.yaml line 1: simulate is not a field; use simulated, nodes."),
    (GOOD.replace("name: node-b", "name: node-a"), "pool.yaml line 8: nodes[1].name 'node-a' is declared twice"),
    ("nodes: [", "pool.yaml line 1: not valid YAML; fix the syntax."),
    ("simulated: true\n", "pool.yaml line 1: nodes is missing."),
])
def test_an_inventory_with_a_mistake_is_refused_naming_the_line_and_the_field(text, message):
    with pytest.raises(InvalidInput) as err:
        inventory.parse(text, "pool.yaml")
    assert err.value.message.startswith(message)


def test_an_unknown_gpu_model_or_profile_lists_the_valid_ones():
    with pytest.raises(InvalidInput, match="GPU model 'A200' is not known; use one of A30-24GB, A100-SXM4-40GB, "):
        geometry.model("A200")
    with pytest.raises(InvalidInput, match=r"'3g\.41gb' is not a profile of any supported GPU; valid profiles are "
                                           r"1g\.6gb, "):
        geometry.check_profile("3g.41gb")
    with pytest.raises(InvalidInput, match=r"'1g\.5gb' does not exist on A100-80GB; its profiles are 1g\.10gb, "):
        geometry.model("A100-80GB").profile("1g.5gb")


def test_the_same_profile_name_means_different_geometry_on_different_models():
    forty, eighty = geometry.model("A100-SXM4-40GB"), geometry.model("A100-80GB")
    assert (forty.profile("1g.10gb").size, eighty.profile("1g.10gb").size) == (2, 1)
    assert geometry.model("H200-141GB").profile("3g.71gb").starts is None  # unconfirmed
    assert geometry.model("H200-141GB").assuming_expected().profile("3g.71gb").starts == (0, 4)


def test_the_smallest_fitting_profile_per_model_for_a_memory_need():
    assert geometry.smallest_profile(geometry.model("A100-80GB"), 12).name == "1g.20gb"
    assert geometry.smallest_profile(geometry.model("A100-80GB"), 30).name == "3g.40gb"
    assert geometry.smallest_profile(geometry.model("A30-24GB"), 5).name == "1g.6gb"
    assert geometry.smallest_profile(geometry.model("A100-80GB"), 81) is None


def test_the_smallest_profile_for_a_memory_need_on_every_model():
    advice = geometry.smallest_profiles(15)
    assert advice["A100-80GB"].name == "1g.20gb" and advice["A30-24GB"].name == "4g.24gb"
    assert geometry.smallest_profiles(100)["A100-80GB"] is None
    assert advice["H200-141GB"].name == "1g.18gb" and set(advice) == set(geometry.models())
