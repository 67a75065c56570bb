"""SSO claims -> grants -> one principal per call, decided by the same policy table as keys."""

from __future__ import annotations

import itertools

import pytest

from aiplane.domain.errors import Forbidden, InvalidInput
from aiplane.domain.identity import ClaimMapping, Grant, Person, check_mapping, grants_for, narrow
from aiplane.domain.policy import ALLOWED, Action, authorize
from aiplane.domain.roles import Role

ALICE = Person("https://idp.example.org", "alice", "alice@example.org", "Alice")
MAPPINGS = [
    ClaimMapping(1, "groups", "clinical-admins", Grant("clinical", Role.TENANT_ADMIN)),
    ClaimMapping(2, "groups", "clinical-auditors", Grant("clinical", Role.AUDITOR)),
    ClaimMapping(3, "groups", "finance-predictors", Grant("finance", Role.PREDICTOR)),
    ClaimMapping(4, "groups", "auditors", Grant(None, Role.AUDITOR)),
    ClaimMapping(5, "client_id", "ci-bot", Grant("clinical", Role.DEPLOYER)),
    ClaimMapping(6, "email_verified", "true", Grant("finance", Role.AUDITOR)),
]


def test_a_list_claim_matches_any_item_and_a_string_claim_itself():
    assert grants_for({"groups": ["x", "clinical-admins"]}, MAPPINGS) == {Grant("clinical", Role.TENANT_ADMIN)}
    assert grants_for({"groups": "finance-predictors"}, MAPPINGS) == {Grant("finance", Role.PREDICTOR)}
    assert grants_for({"client_id": "ci-bot"}, MAPPINGS) == {Grant("clinical", Role.DEPLOYER)}
    assert grants_for({"email_verified": True}, MAPPINGS) == {Grant("finance", Role.AUDITOR)}


@pytest.mark.parametrize("claims", [{}, {"groups": []}, {"groups": ["Clinical-Admins"]}, {"groups": {"a": 1}},
                                    {"groups": None}, {"group": ["clinical-admins"]}, {"groups": [1, None]}])
def test_claims_that_match_no_mapping_grant_nothing_and_the_call_gets_a_sentence(claims):
    grants = grants_for(claims, MAPPINGS)
    assert grants == frozenset()
    with pytest.raises(Forbidden, match="no SSO mapping matches"):
        narrow(ALICE, grants, "clinical")


def test_roles_in_one_tenant_add_up():
    grants = grants_for({"groups": ["clinical-admins", "clinical-auditors"]}, MAPPINGS)
    p = narrow(ALICE, grants, None)
    assert p.tenant == "clinical" and p.role is Role.TENANT_ADMIN and p.roles == {Role.AUDITOR}
    assert p.user == ALICE and p.key_id == ALICE.actor


def test_grants_in_two_tenants_act_in_the_one_the_call_names_and_never_across():
    grants = grants_for({"groups": ["clinical-admins", "finance-predictors"]}, MAPPINGS)
    with pytest.raises(InvalidInput, match="X-Aiplane-Tenant"):
        narrow(ALICE, grants, None)
    in_finance = narrow(ALICE, grants, "finance")
    authorize(in_finance, Action.PREDICT, "finance")
    with pytest.raises(Forbidden):  # tenant-admin is clinical's, not finance's
        authorize(in_finance, Action.DEPLOYMENT_WRITE, "finance")
    with pytest.raises(Forbidden):
        authorize(in_finance, Action.PREDICT, "clinical")
    with pytest.raises(Forbidden, match="no role in tenant 'legal'"):
        narrow(ALICE, grants, "legal")


def test_a_platform_grant_counts_in_every_tenant_and_alone_when_no_tenant_is_named():
    grants = grants_for({"groups": ["auditors", "finance-predictors"]}, MAPPINGS)
    platform = narrow(ALICE, grants, None)
    assert platform.tenant is None and platform.role is Role.AUDITOR and not platform.roles
    in_finance = narrow(ALICE, grants, "finance")
    assert in_finance.tenant == "finance" and {in_finance.role, *in_finance.roles} == {Role.AUDITOR, Role.PREDICTOR}


TENANTS = ["clinical", "finance", "legal"]
ROLES = [Role.TENANT_ADMIN, Role.DEPLOYER, Role.PREDICTOR, Role.AUDITOR]


@pytest.mark.parametrize("pair", list(itertools.combinations(itertools.product(TENANTS[:2], ROLES), 2)))
def test_every_pair_of_grants_allows_exactly_the_union_of_its_roles_per_tenant(pair):
    grants = frozenset(Grant(t, r) for t, r in pair)
    for tenant in TENANTS:
        roles = {r for t, r in pair if t == tenant}
        if not roles:
            with pytest.raises(Forbidden):
                narrow(ALICE, grants, tenant)
            continue
        p = narrow(ALICE, grants, tenant)
        for action in Action:
            allowed = any(action in ALLOWED[r] for r in roles)
            for target in TENANTS:
                try:
                    authorize(p, action, target)
                    ok = True
                except Forbidden:
                    ok = False
                assert ok == (allowed and target == tenant), (pair, tenant, action, target)


@pytest.mark.parametrize("claim, value, tenant, role, says", [
    ("", "x", "clinical", Role.PREDICTOR, "claim name"),
    ("groups", "", "clinical", Role.PREDICTOR, "claim value"),
    ("groups", "x", None, Role.PREDICTOR, "pass --tenant"),
    ("groups", "x", "clinical", Role.PLATFORM_ADMIN, "without --tenant"),
    ("groups", "x", "Not A Tenant", Role.PREDICTOR, "tenant name"),
])
def test_a_mapping_that_cannot_exist_is_refused_in_one_sentence(claim, value, tenant, role, says):
    with pytest.raises(InvalidInput, match=says):
        check_mapping(claim, value, tenant, role)


def test_the_actor_id_is_stable_short_and_differs_per_issuer():
    other = Person("https://other.example.org", "alice")
    assert ALICE.actor == Person(ALICE.issuer, "alice").actor
    assert ALICE.actor != other.actor and len(ALICE.actor) <= 32
