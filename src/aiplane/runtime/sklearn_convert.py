"""scikit-learn estimator -> ONNX, checked against the estimator itself.

This runs where the pickle already lives (the CLI, on the registering user's machine), so
the platform never unpickles a file it received: unpickling executes arbitrary code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aiplane.domain.errors import InvalidInput

INPUT_NAME = "input"


def load_estimator(path: Path) -> Any:
    import joblib

    try:
        estimator = joblib.load(path)
    except Exception as exc:
        raise InvalidInput(f"{path} is not a pickled or joblib scikit-learn estimator.") from exc
    if not hasattr(estimator, "predict"):
        raise InvalidInput(f"{path} holds a {type(estimator).__name__}, not a fitted scikit-learn estimator.")
    return estimator


def convert(estimator: Any) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is None:
        raise InvalidInput(f"the {type(estimator).__name__} is not fitted (it has no n_features_in_); fit it first.")
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    try:
        model = convert_sklearn(
            estimator, initial_types=[(INPUT_NAME, FloatTensorType([None, int(n_features)]))],
            options=options, target_opset=17,
        )
    except Exception as exc:
        raise InvalidInput(f"skl2onnx cannot convert a {type(estimator).__name__}: {str(exc).splitlines()[0]}") from exc
    return bytes(model.SerializeToString())


def check_equal(estimator: Any, onnx_model: bytes, x: np.ndarray) -> None:
    """Raise InvalidInput unless the converted model predicts what the estimator predicts."""
    from aiplane.runtime import onnx_model as runtime

    session = runtime.open_session(onnx_model)
    runtime.check_validation_x(session, x)
    converted = session.run(None, {INPUT_NAME: x.astype(np.float32)})[0].ravel()
    try:
        expected = np.asarray(estimator.predict(x)).ravel()
    except Exception as exc:  # scikit-learn reports bad input as plain ValueErrors
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"the {type(estimator).__name__} cannot predict on the validation X: {first[:300]}") \
            from None
    if np.issubdtype(expected.dtype, np.floating):
        agree = np.isclose(converted, expected, rtol=1e-4, atol=1e-4)
    else:
        agree = converted.astype(str) == expected.astype(str)
    if not bool(np.all(agree)):
        mismatches = int(np.sum(~agree))  # the rows outside the tolerance, not every inexact float
        raise InvalidInput(
            f"the ONNX conversion disagrees with the estimator on {mismatches} of {len(expected)} validation rows; "
            "register an ONNX file exported and checked by hand instead."
        )
