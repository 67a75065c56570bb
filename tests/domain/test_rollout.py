"""Canary policy: the traffic split, replica counts and what may start, promote or roll back."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from aiplane.domain import rollout
from aiplane.domain.deployments import Canary, Deployment, DeploymentSpec
from aiplane.domain.errors import Conflict, InvalidInput


def _deployment(canary: Canary | None = None, replicas: int = 2) -> Deployment:
    return Deployment(7, "t", "d", DeploymentSpec("m", 1, cpus_milli=500, memory_bytes=1 << 28, max_replicas=4),
                      "a" * 64, datetime.now(timezone.utc), None, replicas, canary)


CANARY = Canary("m", 2, "b" * 64, 25, False, 1)


@pytest.mark.parametrize("percent", [0, 1, 10, 33, 50, 99, 100])
def test_without_request_ids_exactly_percent_of_every_hundred_go_to_the_canary(percent: int):
    for start in (0, 1, 57):
        assert sum(rollout.takes_canary(percent, None, t) for t in range(start, start + 100)) == percent


def test_the_spread_never_sends_long_runs_to_the_canary():
    picks = [rollout.takes_canary(10, None, t) for t in range(100)]
    runs = "".join("c" if p else "s" for p in picks).split("s")
    assert max(len(r) for r in runs) == 1


def test_a_request_id_always_meets_the_same_version_and_ids_split_near_the_percent():
    ids = [f"request-{i}".encode() for i in range(10_000)]
    first = [rollout.takes_canary(30, i, 0) for i in ids]
    assert first == [rollout.takes_canary(30, i, t) for t, i in enumerate(ids)]
    assert 2700 < sum(first) < 3300
    assert not any(rollout.takes_canary(0, i, 0) for i in ids[:500])
    assert all(rollout.takes_canary(100, i, 0) for i in ids[:500])


@pytest.mark.parametrize("percent", [-1, 101, 1000, True, 2.5, "10"])
def test_a_percent_outside_0_to_100_is_refused_in_one_sentence(percent: object):
    with pytest.raises(InvalidInput, match="outside 0-100"):
        rollout.check_percent(percent)  # type: ignore[arg-type]


def test_the_stable_version_again_or_a_second_canary_is_refused():
    with pytest.raises(InvalidInput, match="already the stable version"):
        rollout.check_canary(_deployment(), "m", 1)
    rollout.check_canary(_deployment(), "m", 2)
    rollout.check_canary(_deployment(), "other-model", 1)
    with pytest.raises(Conflict, match="already has a canary"):
        rollout.check_canary(_deployment(CANARY), "m", 3)


def test_promote_or_rollback_without_a_canary_is_a_conflict():
    with pytest.raises(Conflict, match="no canary to promote"):
        rollout.require_canary(_deployment(), "promote")
    assert rollout.require_canary(_deployment(CANARY), "roll back") is CANARY


@pytest.mark.parametrize(("stable", "percent", "expected"), [(1, 10, 1), (4, 25, 1), (4, 30, 2), (4, 100, 4),
                                                             (10, 5, 1), (3, 0, 1)])
def test_a_canary_gets_its_share_of_the_stable_replicas_and_at_least_one(stable: int, percent: int, expected: int):
    assert rollout.canary_replicas(stable, percent) == expected


def test_the_canary_unit_runs_the_canary_model_with_the_deployment_resources_under_the_negated_id():
    d = _deployment(CANARY)
    unit = rollout.canary_unit(d)
    assert (unit.id, unit.replicas, unit.artifact_digest) == (-7, 1, "b" * 64)
    assert (unit.spec.model_version, unit.spec.cpus_milli, unit.spec.memory_bytes) == (2, 500, 1 << 28)
    assert d.reserved().cpus_milli == 3 * 500 and d.reserved().replicas == 3
