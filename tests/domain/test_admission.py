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
