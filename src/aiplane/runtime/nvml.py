"""NVIDIA GPUs through NVML (the `gpu` extra, nvidia-ml-py), imported only when asked.

`detect()` builds the inventory of this machine: each GPU, its model, MIG mode, the MIG
instances that exist and the placements the driver reports (which confirm those the data
leaves unconfirmed). `mig_device_uuid()` names the MIG device a replica is given as
CUDA_VISIBLE_DEVICES. Without the package, a driver or a GPU, `detect()` returns None: no pool.
This module cannot be exercised without a GPU; the rest of the path runs on declared,
simulated inventories.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu import geometry
from aiplane.domain.gpu.inventory import Inventory
from aiplane.domain.gpu.pool import Gpu, GpuId, Instance

log = logging.getLogger("aiplane.gpu")


def _nvml() -> Any | None:
    try:
        import pynvml  # the nvidia-ml-py package
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError: no driver or no GPU on this machine
        return None
    return pynvml


def detect() -> Inventory | None:
    nv = _nvml()
    if nv is None or nv.nvmlDeviceGetCount() == 0:
        return None
    node = socket.gethostname().split(".")[0]
    gpus = []
    for index in range(nv.nvmlDeviceGetCount()):
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        name = str(nv.nvmlDeviceGetName(handle))
        try:
            model = _model(name)
        except InvalidInput:
            log.warning("GPU %d (%s) is not a MIG model aiplane knows; left out of the pool", index, name)
            continue
        mig = nv.nvmlDeviceGetMigMode(handle)[0] == nv.NVML_DEVICE_MIG_ENABLE
        model, instances = _mig_layout(nv, handle, model) if mig else (model, ())
        gpus.append(Gpu(GpuId(node, index), model, mig, instances, str(nv.nvmlDeviceGetUUID(handle))))
    return Inventory(tuple(gpus), simulated=False, source="NVML") if gpus else None


def _model(name: str) -> geometry.GpuModel:
    """'NVIDIA A100-SXM4-80GB' -> A100-80GB: the data's model whose name or alias the device name ends with."""
    bare = name.removeprefix("NVIDIA ").replace(" ", "-")
    for m in geometry.models().values():
        if bare in (m.name, *m.aliases) or bare.endswith(m.name):
            return m
    return geometry.model(bare)


def _mig_layout(nv: Any, handle: Any, model: geometry.GpuModel) -> tuple[geometry.GpuModel, tuple[Instance, ...]]:
    reported: dict[str, tuple[int, ...]] = {}
    instances: list[Instance] = []
    for p in model.profiles.values():
        if p.nvml_enum is None:
            continue
        try:
            info = nv.nvmlDeviceGetGpuInstanceProfileInfo(handle, p.nvml_enum)
            reported[p.name] = tuple(x.start for x in nv.nvmlDeviceGetGpuInstancePossiblePlacements(handle, info.id))
            instances += [Instance(p.name, gi.getInfo().placement.start)
                          for gi in nv.nvmlDeviceGetGpuInstances(handle, info.id)]
        except Exception as exc:  # NVMLError: the profile is not supported by this driver
            log.info("MIG profile %s not reported by the driver: %s", p.name, exc)
    return model.with_placements(reported), tuple(instances)


def mig_device_uuid(gpu_uuid: str, start: int) -> str | None:
    """The UUID of the MIG device on GPU `gpu_uuid` whose instance starts at `start`, or None."""
    nv = _nvml()
    if nv is None:
        return None
    handle = nv.nvmlDeviceGetHandleByUUID(gpu_uuid)
    for i in range(nv.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            mig = nv.nvmlDeviceGetMigDeviceHandleByIndex(handle, i)
            gi = nv.nvmlDeviceGetGpuInstanceById(handle, nv.nvmlDeviceGetGpuInstanceId(mig))
            if gi.getInfo().placement.start == start:
                return str(nv.nvmlDeviceGetUUID(mig))
        except Exception:  # NVMLError: no MIG device at this index
            continue
    return None
