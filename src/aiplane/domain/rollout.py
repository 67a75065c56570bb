"""Canary rollouts: which requests the canary takes, how many replicas it gets, what may start one.

A canary runs as its own set of replicas, supervised and routed under the deployment's id
negated (`canary_id`), so the supervisor, the routing table and the published endpoints need no
second kind of key: a deployment id and its canary's never collide because ids are positive.
"""

from __future__ import annotations

import dataclasses
import math
import zlib

from aiplane.domain.deployments import Canary, Deployment
from aiplane.domain.errors import Conflict, InvalidInput

# 37 is coprime to 100, so `turn * 37 % 100` visits every value of 0..99 once per 100 turns:
# requests without an id are spread evenly instead of the first P of every 100 going to the canary.
_SPREAD = 37


def canary_id(deployment_id: int) -> int:
    """The routing and supervision key of a deployment's canary replicas."""
    return -deployment_id


def check_percent(percent: int) -> int:
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise InvalidInput(f"percent {percent!r} is outside 0-100; give the share of traffic for the canary "
                           "as an integer from 0 to 100.")
    return percent


def check_canary(deployment: Deployment, model: str, version: int) -> None:
    """Refuse a canary that would not be a rollout: a second one, or the stable version again."""
    ref = f"{deployment.tenant}/{deployment.name}"
    if deployment.canary is not None:
        c = deployment.canary
        raise Conflict(f"deployment {ref} already has a canary ({c.model}:{c.model_version} at {c.percent}%); "
                       "promote or roll it back first.")
    spec = deployment.spec
    if (model, version) == (spec.model, spec.model_version):
        raise InvalidInput(f"{model}:{version} is already the stable version of {ref}; "
                           "register a new version and canary that.")


def require_canary(deployment: Deployment, verb: str) -> Canary:
    if deployment.canary is None:
        raise Conflict(f"deployment {deployment.tenant}/{deployment.name} has no canary to {verb}; "
                       "start one with 'aiplane deploy canary'.")
    return deployment.canary


def canary_replicas(stable_replicas: int, percent: int) -> int:
    """Replicas for a canary taking `percent`: its share of the stable count, at least one."""
    return max(1, math.ceil(stable_replicas * percent / 100))


def canary_unit(deployment: Deployment) -> Deployment:
    """The canary's replicas as the supervisor runs them: the deployment's resources and
    batching, the canary's model, under `canary_id`."""
    c = deployment.canary
    assert c is not None
    spec = dataclasses.replace(deployment.spec, model=c.model, model_version=c.model_version)
    return dataclasses.replace(deployment, id=canary_id(deployment.id), spec=spec, artifact_digest=c.artifact_digest,
                               replicas=c.replicas)


def takes_canary(percent: int, request_id: bytes | None, turn: int) -> bool:
    """Whether a request goes to the canary. With a client request id the choice is a hash of it,
    so a retried request (same id) meets the same version; without one, `turn` (a counter) spreads
    requests so that exactly `percent` of every 100 go to the canary."""
    if request_id:
        return zlib.crc32(request_id) % 100 < percent
    return turn * _SPREAD % 100 < percent
