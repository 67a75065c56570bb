"""Replica processes: start N per deployment, wait for readiness, restart the ones that die,
stop them all on shutdown.

Replicas run in their own session (a Ctrl-C in the terminal reaches only `aiplane up`, which
then stops them in order) and watch their parent, so none outlives a supervisor killed hard.
Each has its own working and temporary directory; nothing writable is shared. With tenant users
on (a root platform), each tenant's replicas run as that tenant's own user
(`control.tenant_users`) and its directory is that user's alone (0700), so one tenant's replica
can neither write into another's directory nor connect to its sockets.

A replica binds its sockets inside its own directory (relative to its working directory, so it
needs no path through the data directory); the gateway reaches them through short links in
`socket_dir`, which keep the addresses within sockaddr_un's 108 bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from aiplane.control import processes, tenant_users
from aiplane.domain.deployments import Deployment
from aiplane.serving import sockets

log = logging.getLogger("aiplane.supervisor")

_MAX_SOCKET_PATH = 100  # sockaddr_un holds 108 bytes
_HTTP_SOCKET, _GRPC_SOCKET = "http.sock", "grpc.sock"  # in the replica's own directory


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    index: int
    state: str  # starting | ready | restarting | stopped
    pid: int | None
    restarts: int
    model_version: int = 0


class _Replica:
    def __init__(self, sup: Supervisor, dep: Deployment, index: int, slot: str = "") -> None:
        """`slot` is "" or "b": a replica and the successor that replaces it run side by side
        for a moment."""
        self.sup, self.dep, self.index, self.slot = sup, dep, index, slot
        # Named by a serial, not the index: a promoted canary's replicas join the stable list and
        # keep their names, so a new replica must never take a name in use.
        serial = sup.next_serial()
        self.workdir = sup.replica_root / dep.tenant / f"{dep.name}-{serial}"
        self.socket = str(sup.socket_dir / f"d{abs(dep.id)}-r{serial}.sock")
        self.grpc_socket = sockets.grpc_socket(self.socket) if sup.grpc else None
        self.proc: asyncio.subprocess.Process | None = None
        self.state = "starting"
        self.restarts = 0
        self.stopping = False
        self.ready = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"replica {dep.tenant}/{dep.name}#{index}")

    def runs(self, dep: Deployment) -> bool:
        """Whether this replica was started with what `dep` asks of a replica."""
        return (self.dep.artifact_digest, self.dep.spec.replica_settings()) == \
            (dep.artifact_digest, dep.spec.replica_settings())

    def successor(self, dep: Deployment) -> _Replica:
        return _Replica(self.sup, dep, self.index, "" if self.slot else "b")

    def status(self) -> ReplicaStatus:
        pid = self.proc.pid if self.proc and self.proc.returncode is None else None
        return ReplicaStatus(self.index, self.state, pid, self.restarts, self.dep.spec.model_version)

    async def _run(self) -> None:
        backoff = processes.Backoff(0.5, 10.0)
        while not self.stopping:
            started = asyncio.get_running_loop().time()
            try:
                await self._spawn()
            except OSError as exc:
                log.error("cannot start replica %s/%s#%d: %s", self.dep.tenant, self.dep.name, self.index, exc)
                await asyncio.sleep(backoff.after(0.0))
                continue
            if await self._wait_ready():
                self._set_state("ready")
                self.ready.set()
            assert self.proc is not None
            code = await self.proc.wait()
            self.ready.clear()
            if self.stopping:
                break
            self._set_state("restarting")
            self.restarts += 1
            log.warning("replica %s/%s#%d exited with code %s; restarting", self.dep.tenant, self.dep.name,
                        self.index, code)
            await asyncio.sleep(backoff.after(asyncio.get_running_loop().time() - started))
        self._set_state("stopped")

    async def _spawn(self) -> None:
        user = await self.sup.user_of(self.dep.tenant)
        tmp = self.workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        for folder in (self.workdir.parent, self.workdir, tmp):  # the tenant's, its own: no one else's
            folder.chmod(0o700)
            if user is not None:
                os.chown(folder, user.uid, user.gid)
        links = [(self.socket, _HTTP_SOCKET)] + ([(self.grpc_socket, _GRPC_SOCKET)] if self.grpc_socket else [])
        for link, name in links:
            (self.workdir / name).unlink(missing_ok=True)
            Path(link).unlink(missing_ok=True)
            os.symlink(self.workdir / name, link)
        env = processes.inherited_env("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        env.update(HOME=str(self.workdir), TMPDIR=str(tmp), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        device_env, device_args = await asyncio.to_thread(self.sup.device, self.dep.id, self.index)
        env.update(device_env)
        spec = self.dep.spec
        cmd = [sys.executable, "-m", "aiplane", "serve-model", "--model", str(self.sup.artifact(self.dep.artifact_digest)),
               "--socket", _HTTP_SOCKET, "--name", self.dep.name, "--model-version", str(spec.model_version),
               "--parent-pid", str(os.getpid()), "--max-body-bytes", str(self.sup.max_body_bytes),
               "--max-batch-size", str(spec.max_batch_size), "--max-batch-delay-ms", str(spec.max_batch_delay_ms)]
        if spec.allow_non_finite:
            cmd.append("--allow-non-finite")
        if self.grpc_socket is not None:
            cmd += ["--grpc-socket", _GRPC_SOCKET]
        if user is not None:
            cmd += ["--run-as", user.name]  # it reads its model as root, then parses and serves as the tenant
        cmd += device_args
        with open(self.workdir / "replica.log", "ab") as logfile:
            self.proc = await asyncio.create_subprocess_exec(
                *cmd, cwd=self.workdir, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=logfile,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )
        self._set_state("starting")

    async def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = asyncio.get_running_loop().time() + self.sup.ready_timeout_s
        while asyncio.get_running_loop().time() < deadline and not self.stopping:
            if self.proc.returncode is not None:
                return False
            if await _probe(self.socket):
                return True
            await asyncio.sleep(0.05)
        if self.proc.returncode is None and not self.stopping:
            log.warning("replica %s/%s#%d not ready in %.0f s; killing it", self.dep.tenant, self.dep.name,
                        self.index, self.sup.ready_timeout_s)
            self.proc.kill()
        return False

    def _set_state(self, state: str) -> None:
        self.state = state
        self.sup.announce(self.dep.id)

    async def stop(self) -> None:
        self.stopping = True
        await processes.stop(self.proc, self.task, 10)
        self._set_state("stopped")
        Path(self.socket).unlink(missing_ok=True)
        if self.grpc_socket is not None:
            Path(self.grpc_socket).unlink(missing_ok=True)


async def _ready_within(replica: _Replica, timeout: float) -> bool:
    """Whether `replica` is ready within `timeout`; False at once if it is stopped meanwhile."""
    waiter = asyncio.get_running_loop().create_task(replica.ready.wait())
    try:
        await asyncio.wait({waiter, replica.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
    return replica.ready.is_set() and not replica.stopping


async def _probe(socket: str) -> bool:
    try:
        reader, writer = await asyncio.open_unix_connection(socket)
    except OSError:
        return False
    try:
        writer.write(b"GET /v2/health/ready HTTP/1.1\r\nhost: replica\r\nconnection: close\r\n\r\n")
        line = await asyncio.wait_for(reader.readline(), 2)
        return line.split(b" ")[1:2] == [b"200"]
    except (OSError, asyncio.TimeoutError, IndexError):
        return False
    finally:
        writer.close()


def on_cpu(deployment_id: int, replica: int) -> tuple[Mapping[str, str], Sequence[str]]:
    return {}, []


class Supervisor:
    def __init__(self, data_dir: Path, artifact: Callable[[str], Path], ready_timeout_s: float,
                 max_body_bytes: int, on_change: Callable[[int, list[str]], None], grpc: bool = False,
                 drain_s: float = 0.0, per_tenant_users: bool = False,
                 device: Callable[[int, int], tuple[Mapping[str, str], Sequence[str]]] = on_cpu) -> None:
        self.replica_root = data_dir.resolve() / "replicas"
        self.replica_root.mkdir(parents=True, exist_ok=True)
        # Tenant users may pass through (not list) to their own directory, which is theirs alone.
        self.replica_root.chmod(0o711 if per_tenant_users else 0o700)
        self.per_tenant_users = per_tenant_users  # each tenant's replicas as its own user (needs root)
        self._users: dict[str, tenant_users.TenantUser] = {}
        self._users_lock = asyncio.Lock()
        self.socket_dir = data_dir.resolve() / "run"
        if len(str(self.socket_dir)) > _MAX_SOCKET_PATH - 16:
            self.socket_dir = Path(tempfile.mkdtemp(prefix="aiplane-run-"))
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.artifact = artifact
        self.ready_timeout_s = ready_timeout_s
        self.max_body_bytes = max_body_bytes
        self.on_change = on_change
        self.grpc = grpc  # replicas also serve gRPC, on a Unix socket beside their HTTP one
        self.drain_s = drain_s  # out of routing this long before SIGTERM (gateway workers poll for it)
        # A replica's device: extra environment (CUDA_VISIBLE_DEVICES) and serve-model flags,
        # looked up (in a thread: it reads the store) each time the replica starts.
        self.device = device
        self._replicas: dict[int, list[_Replica]] = {}
        self._successors: dict[int, _Replica] = {}  # a replacement being started, routed once ready
        self._replacing: dict[int, asyncio.Lock] = {}
        self._serial = 0
        # Held by whoever compares the store with the replicas and acts on the difference (the
        # reconciler, a promotion between its store change and its switch), so neither acts on
        # a state the other is halfway through changing.
        self.lock = asyncio.Lock()

    def next_serial(self) -> int:
        self._serial += 1
        return self._serial

    async def user_of(self, tenant: str) -> tenant_users.TenantUser | None:
        """The user `tenant`'s replicas run as; None when they run as this process's user."""
        if not self.per_tenant_users:
            return None
        async with self._users_lock:  # one useradd at a time from this process
            if tenant not in self._users:
                self._users[tenant] = await asyncio.to_thread(tenant_users.ensure, tenant)
            return self._users[tenant]

    def announce(self, deployment_id: int) -> None:
        running = [*self._replicas.get(deployment_id, []), *filter(None, [self._successors.get(deployment_id)])]
        self.on_change(deployment_id, [r.socket for r in running if r.state == "ready"])

    def apply(self, dep: Deployment) -> None:
        """Start replicas until `dep.replicas` run (scaling down comes with the autoscaler)."""
        replicas = self._replicas.setdefault(dep.id, [])
        while len(replicas) < dep.replicas:
            replicas.append(_Replica(self, dep, len(replicas)))

    async def resize(self, dep: Deployment) -> None:
        """Start or stop replicas until exactly `dep.replicas` run; the highest indexes stop first."""
        replicas = self._replicas.setdefault(dep.id, [])
        surplus = replicas[dep.replicas:]
        del replicas[dep.replicas:]
        self.apply(dep)
        if surplus:
            self.announce(dep.id)
            await self._drain(surplus)

    async def replace(self, dep: Deployment, timeout: float) -> bool:
        """Replace, one at a time, each replica not started with what `dep` asks: start its
        successor, route to it once ready, then take the old one out of routing and stop it, so
        the deployment never serves from fewer replicas than before. False (and the replica kept)
        when a successor is not ready within `timeout`."""
        async with self._replacing.setdefault(dep.id, asyncio.Lock()):
            for old in list(self._replicas.get(dep.id, [])):
                if old.runs(dep):
                    old.dep = dep  # same process; later restarts use the newest record
                    continue
                new = self._successors[dep.id] = old.successor(dep)
                try:
                    ready = await _ready_within(new, timeout)
                finally:
                    del self._successors[dep.id]
                replicas = self._replicas.get(dep.id, [])
                if not ready or old not in replicas:  # not ready, or scaled away or deleted meanwhile
                    self.announce(dep.id)
                    await new.stop()
                    if not ready:
                        return False
                    continue
                replicas[replicas.index(old)] = new
                self.announce(dep.id)  # the old one leaves routing before it stops
                await self._drain([old])
        return True

    def replacing(self, deployment_id: int) -> bool:
        lock = self._replacing.get(deployment_id)
        return lock is not None and lock.locked()

    def runs(self, dep: Deployment) -> bool:
        """Whether every replica of `dep` was started with what it asks of a replica now."""
        return all(r.runs(dep) for r in self._replicas.get(dep.id, []))


    async def _drain(self, replicas: list[_Replica]) -> None:
        """Stop replicas already taken out of routing, without dropping a request: wait `drain_s`
        (gateway workers learn of the change by polling the store), then SIGTERM, on which a
        replica stops accepting connections and finishes the requests it holds."""
        if self.drain_s > 0:
            await asyncio.sleep(self.drain_s)
        await asyncio.gather(*(r.stop() for r in replicas))

    def adopt(self, stable: Deployment, canary_id: int) -> list[_Replica]:
        """The canary's replicas (under `canary_id`) become `stable`'s, at once (no await): the
        old stable replicas leave routing in the same step. Returns those, for `retire`."""
        old = self._replicas.pop(stable.id, [])
        adopted = self._replicas.pop(canary_id, [])
        for r in adopted:
            r.dep = stable
        self._replicas[stable.id] = adopted
        self.on_change(canary_id, [])
        self.announce(stable.id)
        return old

    async def retire(self, old: list[_Replica], stable: Deployment) -> None:
        """Drain replicas that `adopt` took out of routing, then match `stable`'s count."""
        await self._drain(old)
        await self.resize(stable)
    async def wait_ready(self, deployment_id: int, timeout: float) -> bool:
        waits = [r.ready.wait() for r in self._replicas.get(deployment_id, [])]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def remove(self, deployment_id: int, drain: bool = True) -> None:
        replicas = [*self._replicas.pop(deployment_id, []), *filter(None, [self._successors.get(deployment_id)])]
        self.on_change(deployment_id, [])
        if drain:
            await self._drain(replicas)
        else:
            await asyncio.gather(*(r.stop() for r in replicas))

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.remove(d, drain=False) for d in list(self._replicas)))

    def deployment_ids(self) -> set[int]:
        return set(self._replicas)

    def count(self, deployment_id: int) -> int:
        return len(self._replicas.get(deployment_id, []))

    def status(self, deployment_id: int) -> list[ReplicaStatus]:
        return [r.status() for r in self._replicas.get(deployment_id, [])]
