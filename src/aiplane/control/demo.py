"""`aiplane up --demo`: two tenants, a real readmission-risk model trained at start, deployed.

The data is synthetic and generated here (seeded, so every run trains the same model): eight
features of a hospital stay, and whether the patient was readmitted within 30 days. The label
follows a logistic relation with noise, loosely shaped like published readmission risk factors;
it is a demonstration, not clinical evidence.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aiplane.control.keys import KeyService, write_secret
from aiplane.control.models import ModelService
from aiplane.control.tenants import TenantService
from aiplane.domain.errors import Conflict, NotFound
from aiplane.domain.policy import Principal

FEATURES = (
    "age_years", "prior_admissions_12m", "length_of_stay_days", "medications", "diagnoses",
    "hba1c_elevated", "emergency_admission", "discharged_home",
)
TENANT, MODEL, DEPLOYMENT = "clinical", "readmission-risk", "readmission"
SAMPLE_ROW = [71.0, 2.0, 6.0, 14.0, 7.0, 1.0, 1.0, 0.0]


def make_dataset(rows: int = 4000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([
        rng.normal(64, 14, rows).clip(18, 100),
        rng.poisson(0.8, rows),
        rng.gamma(2.0, 2.5, rows).round(),
        rng.poisson(9, rows),
        rng.poisson(5, rows),
        rng.binomial(1, 0.3, rows),
        rng.binomial(1, 0.45, rows),
        rng.binomial(1, 0.7, rows),
    ]).astype(np.float32)
    weights = np.array([0.02, 0.55, 0.08, 0.05, 0.09, 0.4, 0.35, -0.6])
    logit = x @ weights - 3.6 + rng.normal(0, 0.5, rows)
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return x, y


def train_onnx() -> tuple[bytes, bytes, dict[str, Any]]:
    """Train the demo classifier; returns (onnx model, validation .npz, training facts)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from aiplane.runtime import sklearn_convert

    x, y = make_dataset()
    split = int(len(x) * 0.8)
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    estimator.fit(x[:split], y[:split])
    onnx_bytes = sklearn_convert.convert(estimator)
    sklearn_convert.check_equal(estimator, onnx_bytes, x[split:])
    buf = io.BytesIO()
    np.savez(buf, X=x[split:], y=y[split:])
    return onnx_bytes, buf.getvalue(), {"features": list(FEATURES), "converted_matches_estimator": True}


@dataclass(frozen=True)
class DemoKeys:
    predictor: str


def seed(admin: Principal, tenants: TenantService, keys: KeyService, models: ModelService,
         data_dir: Path) -> DemoKeys:
    """Create the demo tenants, model and predictor key once; returns the key."""
    key_file = data_dir / "demo-predictor.key"
    for name, compliance, cost_center in ((TENANT, ["hipaa"], "CC-1001"), ("finance", ["soc2"], "CC-2001")):
        try:
            tenants.create(admin, name, {"cpus": 8, "memory": "16Gi", "replicas": 10}, cost_center, compliance)
        except Conflict:
            pass
    try:
        models.get(admin, TENANT, MODEL, None)
    except NotFound:
        onnx_bytes, validation, facts = train_onnx()
        models.register(admin, TENANT, MODEL, onnx_bytes, "sklearn", validation, facts)
    if not key_file.exists():
        _, secret = keys.create(admin, "predictor", TENANT, "demo-predictor")
        write_secret(key_file, secret)
    return DemoKeys(predictor=key_file.read_text().strip())
