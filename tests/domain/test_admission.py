import pytest

from aiplane.domain import admission
from aiplane.domain.errors import QuotaExceeded
from aiplane.domain.tenancy import Quota, parse_quota
from aiplane.domain.errors import InvalidInput

R = admission.Resources


def test_admits_up_to_the_limit_exactly():
    quota = Quota(cpus_milli=2000, replicas=2)
    admission.check("t", quota, R(cpus_milli=1000, replicas=1), R(cpus_milli=1000, replicas=1))


def test_refusal_names_resource_asked_used_and_limit():
    quota = Quota(memory_bytes=2 * 2**30)
    with pytest.raises(QuotaExceeded) as err:
        admission.check("clinical", quota, R(memory_bytes=2**30), R(memory_bytes=2 * 2**30))
    assert "memory" in err.value.message and "asked 2Gi" in err.value.message
    assert "in use 1Gi" in err.value.message and "limit 2Gi" in err.value.message


def test_unlimited_fields_never_refuse():
    admission.check("t", Quota(), R(cpus_milli=10**9), R(cpus_milli=10**9, replicas=1000))


def test_mig_slices_are_counted_per_profile():
    quota = Quota(mig={"1g.10gb": 2})
    admission.check("t", quota, R(mig={"1g.10gb": 1}), R(mig={"1g.10gb": 1}))
    with pytest.raises(QuotaExceeded, match="mig 3g.40gb"):
        admission.check("t", quota, R(), R(mig={"3g.40gb": 1}))


def test_resources_add_and_multiply():
    one = R(cpus_milli=500, memory_bytes=10, replicas=1, mig={"1g.10gb": 1})
    assert one.times(3).plus(one) == R(cpus_milli=2000, memory_bytes=40, replicas=4, mig={"1g.10gb": 4})


def test_parse_quota_keeps_base_values_for_unset_fields():
    base = parse_quota(cpus=8, memory="16Gi")
    updated = parse_quota(memory="32Gi", base=base)
    assert updated.cpus_milli == 8000 and updated.memory_bytes == 32 * 2**30


@pytest.mark.parametrize("kwargs", [{"gpus": -1}, {"cpus": "eight"}, {"mig": {"1g.10": 1}}, {"rate_limit": 0},
                                    {"rate_limit": "fast"}, {"memory": "16Gb"}])
def test_parse_quota_rejects_bad_values(kwargs):
    with pytest.raises(InvalidInput):
        parse_quota(**kwargs)


def test_mig_profile_names_are_those_of_real_gpus():
    quota = parse_quota(mig={"1g.10gb": 2, "3g.40gb": "1", "1g.5gb+me": 1, "7g.141gb": 1})
    assert dict(quota.mig) == {"1g.10gb": 2, "3g.40gb": 1, "1g.5gb+me": 1, "7g.141gb": 1}
    for bad in ("1g.11gb", "8g.80gb", "1g.10GB", "mig-1g.10gb", ""):
        with pytest.raises(InvalidInput, match="not a profile of any supported GPU"):
            parse_quota(mig={bad: 1})


@pytest.mark.parametrize("team,gpus,cpus", [("data-science", 16, 128), ("engineering", 4, 64),
                                            ("finance", 8, 64), ("research", 16, 128)])
def test_the_reference_team_quotas_parse_as_written(team, gpus, cpus):
    # docs/reference-figures.md, "Example team quotas (a mid-sized enterprise)".
    quota = parse_quota(gpus=gpus, cpus=cpus)
    assert quota.gpus == gpus and quota.cpus_milli == cpus * 1000
    admission.check(team, quota, R(), R(gpus=gpus, cpus_milli=cpus * 1000))
    with pytest.raises(QuotaExceeded, match=f"gpus: asked 1, in use {gpus}, limit {gpus}"):
        admission.check(team, quota, R(gpus=gpus), R(gpus=1))


def test_kubernetes_quantities_are_accepted_and_near_misses_are_not():
    assert parse_quota(memory="16Gi").memory_bytes == 16 * 2**30
    assert parse_quota(memory="16G").memory_bytes == 16 * 10**9
    assert parse_quota(cpus="500m").cpus_milli == 500
    for bad in ("16Gb", "16gi", "16 Gi", "-1Gi", "16GiB"):
        with pytest.raises(InvalidInput, match="not a valid quantity"):
            parse_quota(memory=bad)


def test_a_quota_lowered_below_use_warns_blocks_growth_and_admits_shrinking():
    quota = Quota(cpus_milli=1000, replicas=5)
    used = R(cpus_milli=3000, replicas=3)
    assert admission.over_limit("t", quota, used) == [
        "tenant 't' uses 3 of cpus, above the new limit of 1; what runs keeps running, but no deploy or "
        "scale-up is admitted until use falls under the limit."]
    with pytest.raises(QuotaExceeded, match="lowered below what is in use"):
        admission.check("t", quota, used, R(cpus_milli=1000, replicas=1))
    admission.check("t", quota, used, R(cpus_milli=-1000, replicas=-1))
    assert admission.over_limit("t", Quota(cpus_milli=3000), used) == []
