import pytest

from aiplane.domain import names, registry
from aiplane.domain.errors import InvalidInput


def test_model_refs_parse_versions_and_latest():
    assert registry.parse_ref("risk:3") == ("risk", 3)
    assert registry.parse_ref("risk:latest") == ("risk", None)
    assert registry.parse_ref("risk") == ("risk", None)


@pytest.mark.parametrize("ref", ["risk:0", "risk:v1", "Risk:1", ":1"])
def test_bad_model_refs_are_rejected(ref):
    with pytest.raises(InvalidInput):
        registry.parse_ref(ref)


@pytest.mark.parametrize("name", ["a", "clinical", "team-1", "a" * 63])
def test_dns_labels_are_valid_names(name):
    assert names.check("tenant", name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "A", "a_b", "a" * 64, "a/b"])
def test_other_names_are_rejected_with_the_rule(name):
    with pytest.raises(InvalidInput, match="lowercase"):
        names.check("tenant", name)


def test_scoped_refs_split_into_tenant_and_name():
    assert names.split_scoped("clinical/risk") == ("clinical", "risk")
    with pytest.raises(InvalidInput, match="TENANT/NAME"):
        names.split_scoped("clinical")
