"""The one settings object: typed, grouped, documented, read once at start-up.

Every field names its environment variable (prefix AIPLANE_) and says why its default is
what it is. `docs/configuration.md` lists them all; a test fails when one is missing there.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from aiplane.domain.canary_analysis import Thresholds
from aiplane.domain.errors import InvalidInput


def _setting(default: Any, env: str, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True)
class ServerSettings:
    host: str = _setting("127.0.0.1", "AIPLANE_HOST",
                         "Address to bind. Loopback by default so nothing is exposed until you choose to.")
    port: int = _setting(8080, "AIPLANE_PORT", "TCP port of the API, the data plane and the UI.")
    grpc_port: int = _setting(0, "AIPLANE_GRPC_PORT",
                              "TCP port of the data plane over gRPC (the Open Inference Protocol's "
                              "GRPCInferenceService), on the same host; 0 (the default) leaves gRPC off, so "
                              "no second port is open and replicas start no gRPC server.")
    data_dir: Path = _setting(Path(".aiplane"), "AIPLANE_DATA_DIR",
                              "Where the database, artifacts, keys and replica sockets live.")
    workers: int = _setting(1, "AIPLANE_WORKERS",
                            "Gateway processes serving the port (`aiplane up --workers N`). One process "
                            "serves everything; N spreads the data plane over N cores, with the first "
                            "process still the only one running replicas and the control API.")
    tls_cert: str = _setting("", "AIPLANE_TLS_CERT",
                             "PEM certificate (and chain) for HTTPS and gRPC over TLS (`--tls-cert`); empty "
                             "serves plain HTTP, which is only safe on 127.0.0.1.")
    tls_key: str = _setting("", "AIPLANE_TLS_KEY", "PEM private key of AIPLANE_TLS_CERT (`--tls-key`).")
    tls_self_signed: bool = _setting(False, "AIPLANE_TLS_SELF_SIGNED",
                                     "Serve TLS with a certificate made on first start in DATA_DIR/tls "
                                     "(`--tls-self-signed`); clients trust it by its file or fingerprint. For "
                                     "trying TLS out: production should use a certificate its CA issued.")


@dataclass(frozen=True)
class StoreSettings:
    database_url: str = _setting("", "AIPLANE_DATABASE_URL",
                                 "SQLAlchemy URL; empty means SQLite (WAL) at DATA_DIR/aiplane.db. "
                                 "Use postgresql+psycopg://... for PostgreSQL.")


@dataclass(frozen=True)
class GatewaySettings:
    max_body_bytes: int = _setting(16 << 20, "AIPLANE_GATEWAY_MAX_BODY_BYTES",
                                   "Largest inference request body accepted (413 above). 16 MiB holds "
                                   "a batch of 100k FP32 features with room to spare.")
    forward_timeout_s: float = _setting(60.0, "AIPLANE_GATEWAY_FORWARD_TIMEOUT_S",
                                        "How long the gateway waits for a replica's answer before 504.")
    connections_per_replica: int = _setting(64, "AIPLANE_GATEWAY_CONNECTIONS_PER_REPLICA",
                                            "Keep-alive connections kept open to each replica; more "
                                            "in-flight requests wait for a free one.")
    auth_failures_per_minute: float = _setting(60.0, "AIPLANE_GATEWAY_AUTH_FAILURES_PER_MINUTE",
                                               "Failed authentications (a key that is wrong, revoked or "
                                               "expired) allowed per client address per minute, after the "
                                               "burst; beyond it the address gets 429. A person mistyping "
                                               "never gets near it; a key-guessing script does at once.")
    auth_failure_burst: int = _setting(20, "AIPLANE_GATEWAY_AUTH_FAILURE_BURST",
                                       "Failed authentications an address may make back to back before "
                                       "the per-minute budget applies.")
    last_used_flush_s: float = _setting(10.0, "AIPLANE_GATEWAY_LAST_USED_FLUSH_S",
                                        "How often the keys' last-used times are written to the store, in "
                                        "one batch; never once per request.")


@dataclass(frozen=True)
class ControlSettings:
    max_upload_bytes: int = _setting(1 << 30, "AIPLANE_CONTROL_MAX_UPLOAD_BYTES",
                                     "Largest model artifact or validation file accepted (413 above).")
    replica_ready_timeout_s: float = _setting(60.0, "AIPLANE_REPLICA_READY_TIMEOUT_S",
                                              "How long a new replica may take to load its model.")
    replica_tenant_users: bool = _setting(True, "AIPLANE_REPLICA_TENANT_USERS",
                                          "When `aiplane up` runs as root, each tenant's replicas run as that "
                                          "tenant's own system user (`aiplane-<tenant>`, created on first use) "
                                          "in a directory only it can enter, so one tenant's replica cannot "
                                          "write into another's or connect to its sockets. Ignored when not "
                                          "root: every replica then runs as the platform's user.")
    state_poll_s: float = _setting(0.5, "AIPLANE_STATE_POLL_S",
                                   "How often cached keys, tenants and routes are checked against the "
                                   "store, so a change made elsewhere takes effect within a second.")
    optimize_timeout_s: float = _setting(900.0, "AIPLANE_CONTROL_OPTIMIZE_TIMEOUT_S",
                                         "Longest a `model quantize` or `model profile` job may run in its "
                                         "child process before it is stopped. Static quantization of a "
                                         "transformer with calibration takes minutes on two cores.")
    reconcile_s: float = _setting(2.0, "AIPLANE_RECONCILE_S",
                                  "How often running replicas are matched to the store, so a deployment "
                                  "scaled or deleted by another process (a CLI on the same store, another "
                                  "worker) starts or stops its replicas within a few seconds.")


@dataclass(frozen=True)
class AuditSettings:
    checkpoint_interval_s: float = _setting(1.0, "AIPLANE_AUDIT_CHECKPOINT_INTERVAL_S",
                                            "How often the audit tree is signed when it grew. One second bounds "
                                            "the unsigned tail a truncation could hide to a second of events.")
    commit_timeout_s: float = _setting(10.0, "AIPLANE_AUDIT_COMMIT_TIMEOUT_S",
                                       "How long a prediction waits for its audit event to be durable before "
                                       "it fails with 503 and its answer is withheld (fail-closed).")
    max_batch: int = _setting(4096, "AIPLANE_AUDIT_MAX_BATCH",
                              "Most events committed in one transaction (group commit); the writer takes "
                              "whatever queued while the previous commit ran, up to this.")
    max_pending: int = _setting(100_000, "AIPLANE_AUDIT_MAX_PENDING",
                                "Events waiting for the writer before new predictions are refused with 503, "
                                "so a stalled store cannot grow memory without bound.")
    retention_days: int = _setting(2192, "AIPLANE_AUDIT_RETENTION_DAYS",
                                   "Default retention of audit metadata per tenant: six years (HIPAA keeps "
                                   "compliance records six years). Pruning keeps leaf hashes, so proofs stay.")
    unauthenticated_window_s: float = _setting(60.0, "AIPLANE_AUDIT_UNAUTHENTICATED_WINDOW_S",
                                               "Requests without a valid key are audited as counts per source "
                                               "address over this window, not one event each, so a flood cannot "
                                               "grow the log without limit.")
    record_predictions: bool = _setting(True, "AIPLANE_AUDIT_RECORD_PREDICTIONS",
                                        "Benchmark-only switch: false serves predictions without audit events, "
                                        "to measure what auditing costs. Never turn it off in production.")


@dataclass(frozen=True)
class RolloutSettings:
    drain_s: float = _setting(1.0, "AIPLANE_ROLLOUT_DRAIN_S",
                              "How long a replica stays up after it leaves routing (promote, rollback, "
                              "scale-down, replacement) before it is told to stop: gateway workers learn of "
                              "the change by polling the store every AIPLANE_STATE_POLL_S, so this covers "
                              "two polls; requests it still holds then finish before it exits.")
    window_s: float = _setting(30.0, "AIPLANE_ROLLOUT_WINDOW_S",
                               "The sliding window over which an auto-rollback canary's error rate and p99 "
                               "are compared with the stable version's: long enough for a few dozen answers "
                               "at a low share of modest traffic.")
    min_requests: int = _setting(20, "AIPLANE_ROLLOUT_MIN_REQUESTS",
                                 "Canary answers in the window before it is judged; fewer say too little.")
    max_error_rate_increase: float = _setting(0.05, "AIPLANE_ROLLOUT_MAX_ERROR_RATE_INCREASE",
                                              "How much higher (absolute: 0.05 is 5 points) the canary's "
                                              "failure rate (status 400 or above) may be than the stable one's.")
    max_p99_ratio: float = _setting(2.0, "AIPLANE_ROLLOUT_MAX_P99_RATIO",
                                    "How many times the stable version's p99 latency the canary's may reach.")
    min_p99_increase_ms: float = _setting(25.0, "AIPLANE_ROLLOUT_MIN_P99_INCREASE_MS",
                                          "... and by how many milliseconds at least before that counts, so "
                                          "2 ms against 1 ms is no reason to roll back.")
    check_s: float = _setting(1.0, "AIPLANE_ROLLOUT_CHECK_S",
                              "How often watched canaries are judged: a breach is acted on within a second.")

    def thresholds(self) -> Thresholds:
        return Thresholds(self.window_s, self.min_requests, self.max_error_rate_increase, self.max_p99_ratio,
                          self.min_p99_increase_ms)


@dataclass(frozen=True)
class OidcSettings:
    issuers: str = _setting("", "AIPLANE_OIDC_ISSUERS",
                            "Identity providers whose JWTs are accepted beside API keys: a JSON list of "
                            '{"issuer", "audience", "algorithms" (default ["RS256"]), "discovery_url" '
                            "(default ISSUER/.well-known/openid-configuration)}. Empty (the default) turns "
                            "SSO off. See docs/identity.md.")
    jwks_cache_s: float = _setting(3600.0, "AIPLANE_OIDC_JWKS_CACHE_S",
                                   "How long an issuer's keys are trusted after the last fetch that worked. "
                                   "An hour rides out a provider outage; past it, tokens fail closed (401).")
    jwks_refresh_s: float = _setting(60.0, "AIPLANE_OIDC_JWKS_REFRESH_S",
                                     "Least time between two fetches of an issuer's keys (an unknown kid asks "
                                     "for one), so rotation is picked up within a minute and a flood of made-up "
                                     "kids costs the provider one request a minute.")
    clock_skew_s: int = _setting(60, "AIPLANE_OIDC_CLOCK_SKEW_S",
                                 "Clock difference allowed when checking exp and nbf; a minute covers "
                                 "NTP-synchronised machines without keeping expired tokens alive for long.")
    http_timeout_s: float = _setting(5.0, "AIPLANE_OIDC_HTTP_TIMEOUT_S",
                                     "How long a fetch of a discovery document or JWKS may take.")
    token_cache_size: int = _setting(100_000, "AIPLANE_OIDC_TOKEN_CACHE_SIZE",
                                     "Verified tokens remembered (by SHA-256, until they expire) per gateway "
                                     "process, so a signature is checked once per token, not per request.")


@dataclass(frozen=True)
class GpuSettings:
    inventory: str = _setting("", "AIPLANE_GPU_INVENTORY",
                              "GPU inventory YAML (nodes, GPU models, MIG on or off; `simulated: true` to run "
                              "the GPU path on a machine without GPUs), also `aiplane up --gpu-inventory`. Empty: "
                              "GPUs are detected with NVML where the `gpu` extra is installed, else there is no "
                              "GPU pool and `--device gpu|mig-*` is refused.")


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    control: ControlSettings = field(default_factory=ControlSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    oidc: OidcSettings = field(default_factory=OidcSettings)
    gpu: GpuSettings = field(default_factory=GpuSettings)

    @property
    def database_url(self) -> str:
        if self.store.database_url:
            return self.store.database_url
        return f"sqlite:///{(self.server.data_dir / 'aiplane.db').resolve()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from AIPLANE_* variables; `overrides` (group__field=value) win."""
        env = os.environ if environ is None else environ
        groups: dict[str, Any] = {}
        for group in dataclasses.fields(cls):
            group_cls = _group_class(group)
            values: dict[str, Any] = {}
            for f in dataclasses.fields(group_cls):
                key = f"{group.name}__{f.name}"
                raw = overrides.get(key)
                if raw is None and f.metadata["env"] in env:
                    raw = env[f.metadata["env"]]
                if raw is not None:
                    values[f.name] = _convert(f, raw)
            groups[group.name] = group_cls(**values)
        return cls(**groups)


def _group_class(group: dataclasses.Field[Any]) -> type[Any]:
    """The settings dataclass a Settings field holds (its default factory)."""
    factory = group.default_factory
    if not (isinstance(factory, type) and dataclasses.is_dataclass(factory)):
        raise TypeError(f"Settings.{group.name} must use a settings dataclass as its default_factory.")
    return factory


def _convert(f: dataclasses.Field[Any], raw: Any) -> Any:
    if f.default is dataclasses.MISSING:
        raise TypeError(f"setting {f.metadata['env']} has no default, so its type is unknown; give it one.")
    kind = type(f.default)
    try:
        if kind is Path:
            return Path(raw)
        if kind is bool and isinstance(raw, str):
            return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}[raw.lower()]
        return kind(raw)
    except (TypeError, ValueError, KeyError):
        raise InvalidInput(f"setting {f.metadata['env']} has value {raw!r}, which is not a valid {kind.__name__}.") from None


def documented_fields() -> list[tuple[str, str]]:
    """(environment variable, doc) of every setting, for the docs and their test."""
    out = []
    for group in dataclasses.fields(Settings):
        for f in dataclasses.fields(_group_class(group)):
            out.append((f.metadata["env"], f.metadata["doc"]))
    return out
