"""The non-negotiables: each rule rules an option out and says why; cost picks among the rest.

Placement (reference, "Service levels and placement by industry"):
- data_residency on-prem keeps training and inference off the cloud;
- HIPAA keeps production inference off the cloud (de-identified training data may use it:
  say so with data_residency: any);
- industry defaults for inference, overridable with `placements.inference`: finance and
  healthcare infer on-premises, manufacturing may also infer at the edge;
- edge needs at least one edge site (manufacturing has one unless told otherwise).
Device (reference, "GPU vs CPU inference"), unless a measured profile says otherwise:
- CPU is out for models over 1 GB, latency ceilings under 100 ms, or peaks of 1,000 rps.
Latency: network round trip to the placement + the device's p99 must fit latency_p99_ms.
"""

from __future__ import annotations

from aiplane.domain.planning import sizing
from aiplane.domain.planning.catalog import Assumptions, Placement
from aiplane.domain.planning.portfolio import Industry, Residency, Workload

_INFERENCE_DEFAULTS = {
    Industry.HEALTHCARE: ((Placement.ON_PREM, Placement.EDGE),
                          "healthcare runs production inference on-premises (reference)"),
    Industry.FINANCE: ((Placement.ON_PREM, Placement.EDGE),
                       "finance runs inference on-premises for SOC 2 scope, latency and volume (reference)"),
}
_EVERYWHERE = (Placement.CLOUD, Placement.ON_PREM, Placement.EDGE)


def training_ruled_out(w: Workload, placement: Placement) -> str | None:
    if placement is Placement.CLOUD and w.data_residency is Residency.ON_PREM:
        return "data_residency on-prem keeps the training data off the cloud"
    allowed = w.placements.get("training")
    if allowed is not None and placement not in allowed:
        return f"placements.training allows only {', '.join(p.value for p in allowed)}"
    return None


def placement_ruled_out(w: Workload, placement: Placement) -> str | None:
    """Why inference may not run at `placement`, or None."""
    if placement is Placement.CLOUD and w.data_residency is Residency.ON_PREM:
        return "data_residency on-prem keeps the data off the cloud"
    if placement is Placement.CLOUD and "hipaa" in w.compliance:
        return "HIPAA keeps production inference on patient data off the cloud"
    if "inference" in w.placements:
        allowed = w.placements["inference"]
        if placement not in allowed:
            return f"placements.inference allows only {', '.join(p.value for p in allowed)}"
    elif w.industry in _INFERENCE_DEFAULTS:
        allowed, reason = _INFERENCE_DEFAULTS[w.industry]
        if placement not in allowed:
            return f"{reason}; override with placements.inference"
    if placement is Placement.EDGE and w.edge_sites == 0:
        return "there are no edge sites (set edge_sites to plan inference at the edge)"
    return None


def device_ruled_out(w: Workload, a: Assumptions, placement: Placement, device: str) -> str | None:
    """Why `device` ("cpu" or "gpu") cannot serve `w` at `placement`, or None."""
    if device == "cpu":
        reason = _cpu_ruled_out(w, a)
        if reason:
            return reason
    device_ms = sizing.cpu_ms(w, a) if device == "cpu" else sizing.gpu_ms(w, a)
    total = a.rtt_ms(placement) + device_ms
    if w.latency_p99_ms is not None and total > w.latency_p99_ms:
        return (f"latency {a.rtt_ms(placement):g} ms network + {device_ms:g} ms {device.upper()} = {total:g} ms "
                f"exceeds latency_p99_ms {w.latency_p99_ms:g}")
    return None


def _cpu_ruled_out(w: Workload, a: Assumptions) -> str | None:
    if w.requests_per_day == 0:
        return "requests_per_day is not given, so CPU nodes cannot be sized; give requests_per_day"
    memory = sizing.memory_gb(w, a, int8=False)
    if memory > a.cpu_node_memory_gb:
        return f"the model needs {memory:g} GB, more than a CPU node's {a.cpu_node_memory_gb:g} GB"
    if w.profile is not None and w.profile.cpu_p99_ms is not None:
        return None  # measured: only the latency check below applies
    hint = "; a measured profile.cpu_p99_ms overrides this rule of thumb"
    if w.model_size_gb > a.cpu_max_model_gb:
        return f"model_size_gb {w.model_size_gb:g} is over {a.cpu_max_model_gb:g} GB, GPU territory (reference){hint}"
    if w.latency_p99_ms is not None and w.latency_p99_ms < a.cpu_min_latency_ms:
        return (f"latency_p99_ms {w.latency_p99_ms:g} is under {a.cpu_min_latency_ms:g} ms, "
                f"GPU territory (reference){hint}")
    peak = sizing.peak_rps(w, a)
    if peak >= a.cpu_max_peak_rps:
        return f"the peak of {peak:,.0f} requests/s is over {a.cpu_max_peak_rps:,.0f}, GPU territory (reference){hint}"
    return None
