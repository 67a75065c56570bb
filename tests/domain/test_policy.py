import pytest

from aiplane.domain.errors import Forbidden
from aiplane.domain.policy import (ALLOWED, ROUTES, Action, Principal, Scope, authorize, check_grant,
                                   match_data_plane, route_policy)
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


def test_every_guarded_route_names_an_action_and_only_public_ones_do_not():
    for (method, template), rule in ROUTES.items():
        assert (rule.action is None) == (rule.scope is Scope.PUBLIC), (method, template)
        if rule.scope is Scope.PATH:
            assert "{tenant}" in template, template


def test_data_plane_paths_match_their_templates_and_nothing_else():
    template, rule, params = match_data_plane("POST", "/v2/models/risk/versions/2/infer")
    assert template == "/v2/models/{name}/versions/{version}/infer" and params == {"name": "risk", "version": "2"}
    assert rule.action is Action.PREDICT and rule.scope is Scope.DATA
    assert match_data_plane("GET", "/v2/")[0] == "/v2"
    for method, path in [("GET", "/v2/models/risk/infer"), ("POST", "/v2/models//infer"), ("GET", "/v2/models"),
                         ("GET", "/v2/repository/index"), ("DELETE", "/v2/models/risk")]:
        assert match_data_plane(method, path) is None, (method, path)


def test_a_route_without_an_entry_is_named_in_the_error():
    with pytest.raises(KeyError, match="GET /api/v1/nothing has no entry"):
        route_policy("GET", "/api/v1/nothing")
