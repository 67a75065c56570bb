import pytest

from aiplane.domain.errors import Forbidden
from aiplane.domain.policy import ALLOWED, Action, Principal, authorize, check_grant
from aiplane.domain.roles import Role


def test_every_role_has_a_row_and_platform_admin_may_do_everything():
    assert set(ALLOWED) == set(Role)
    assert ALLOWED[Role.PLATFORM_ADMIN] == frozenset(Action)


def test_predictor_may_only_predict():
    p = Principal("k", Role.PREDICTOR, "clinical")
    authorize(p, Action.PREDICT, "clinical")
    for action in set(Action) - {Action.PREDICT, Action.PLAN}:  # planning reads no tenant data
        with pytest.raises(Forbidden):
            authorize(p, action, "clinical")


@pytest.mark.parametrize("role", [Role.TENANT_ADMIN, Role.DEPLOYER, Role.PREDICTOR, Role.AUDITOR])
def test_a_tenant_key_never_acts_in_another_tenant(role):
    p = Principal("k", role, "clinical")
    for action in ALLOWED[role]:
        with pytest.raises(Forbidden, match="finance"):
            authorize(p, action, "finance")


def test_an_auditor_without_tenant_reads_audit_everywhere_but_changes_nothing():
    p = Principal("k", Role.AUDITOR, None)
    authorize(p, Action.AUDIT_READ, "finance")
    with pytest.raises(Forbidden):
        authorize(p, Action.DEPLOYMENT_WRITE, "finance")


def test_tenant_admin_grants_only_tenant_roles_in_its_tenant():
    admin = Principal("k", Role.TENANT_ADMIN, "clinical")
    check_grant(admin, Role.PREDICTOR, "clinical")
    with pytest.raises(Forbidden):
        check_grant(admin, Role.PLATFORM_ADMIN, None)
    with pytest.raises(Forbidden):
        check_grant(admin, Role.PREDICTOR, "finance")


def test_deployer_cannot_create_keys():
    with pytest.raises(Forbidden):
        check_grant(Principal("k", Role.DEPLOYER, "clinical"), Role.PREDICTOR, "clinical")
