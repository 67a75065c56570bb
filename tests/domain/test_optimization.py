"""The quality gate of a quantized version against its FP32 parent."""

from __future__ import annotations

import pytest

from aiplane.domain import optimization
from aiplane.domain.errors import InvalidInput
from aiplane.domain.optimization import Metric, Quality


def test_an_accuracy_drop_over_the_limit_is_refused_saying_by_how_much():
    q = Quality.of({"accuracy_before": 0.95, "accuracy_after": 0.92})
    assert q.metric is Metric.ACCURACY and q.drop == pytest.approx(0.03)
    message = optimization.refusal(q, 0.01, "version 1")
    assert message == ("the INT8 version's accuracy is 0.9200 against 0.9500 for version 1, a drop of 3.00 points, "
                       "2.00 over --max-accuracy-drop 1 points; nothing was registered (give representative "
                       "--calibration data or allow a larger drop).")


def test_a_drop_within_the_limit_and_a_gain_pass():
    assert optimization.refusal(Quality(Metric.ACCURACY, 0.95, 0.94), 0.01, "v1") is None  # exactly at the limit
    assert optimization.refusal(Quality(Metric.ACCURACY, 0.95, 0.96), 0.0, "v1") is None
    assert optimization.refusal(Quality(Metric.ACCURACY, 0.95, 0.9499), 0.0, "v1") is not None


def test_a_model_without_labels_is_judged_on_cosine_to_fp32():
    q = Quality.of({"cosine_mean": 0.985, "cosine_min": 0.9})
    assert q.metric is Metric.COSINE and q.drop == pytest.approx(0.015)
    assert "mean cosine similarity of 0.9850" in (optimization.refusal(q, 0.01, "version 2") or "")
    assert optimization.refusal(q, 0.02, "version 2") is None
    assert optimization.summary(Quality(Metric.COSINE, 1.0, 0.995), 0.01) == "cosine to FP32 0.9950 (gate >= 0.9900)"


def test_without_validation_data_the_version_passes_marked_unverified():
    q = Quality.of(None)
    assert q.metric is Metric.UNVERIFIED and q.drop is None
    assert optimization.refusal(q, 0.0, "v1") is None
    assert optimization.summary(q, 0.01).startswith("accuracy unverified:")


@pytest.mark.parametrize("value", [-0.1, 1.0, 5])
def test_max_accuracy_drop_must_be_a_fraction(value):
    with pytest.raises(InvalidInput, match="is not a fraction"):
        optimization.check_max_drop(value)
