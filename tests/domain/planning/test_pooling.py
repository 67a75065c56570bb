"""The planner's pools go through the placement engine and NVIDIA's geometry."""

from __future__ import annotations

from tests.domain.planning.conftest import plan_of


def _share(name: str, size_gb: float) -> dict[str, object]:
    # HIPAA keeps inference on-prem, so every share lands in the one on-prem A100-80GB pool;
    # a low utilization keeps compute at one slice, so memory decides the profile.
    return {"name": name, "industry": "healthcare", "compliance": ["hipaa"], "model_size_gb": size_gb,
            "inference": {"gpus": 1, "utilization": 0.05}, "quantization": False}


def test_gpus_to_provision_follow_the_geometry_not_the_sum_of_slices():
    plan = plan_of(_share("a", 20), _share("b", 20), _share("c", 0.5))
    assert [w.inference.chosen.device for w in plan.workloads] == ["mig-3g.40gb", "mig-3g.40gb", "mig-1g.10gb"]
    (pool,) = plan.pools
    # 3 + 3 + 1 = 7 compute slices, one A100's worth; but two 3g.40gb fill all eight memory
    # slices of one GPU, so the 1g.10gb needs a second.
    assert pool.allocated == 1.0 and pool.provisioned == 2


def test_a_share_takes_the_smallest_profile_the_gpu_model_really_has():
    (w,) = plan_of(_share("a", 10)).workloads  # 15 GB with overhead: 1g.20gb, one compute slice
    assert w.inference.chosen.device == "mig-1g.20gb"
    (h200,) = plan_of({**_share("h", 10), "gpu_model": "H200"}).workloads
    assert h200.inference.chosen.device == "mig-1g.18gb"
