"""The quality gate of an optimized (quantized) version against its FP32 parent.

Drops are fractions, as `--max-accuracy-drop 0.01` is: 0.01 is one point of accuracy. A
model with labels is judged on accuracy; one without (an embedding model) on the mean cosine
similarity of its outputs to the parent's, whose drop is `1 - cosine` (so the default 0.01
asks for cosine >= 0.99). A parent without validation data cannot be judged: the version is
allowed but marked "accuracy unverified".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping

from aiplane.domain.errors import InvalidInput

DEFAULT_MAX_DROP = 0.01
UNVERIFIED = "accuracy unverified"


class Metric(str, enum.Enum):
    ACCURACY = "accuracy"
    COSINE = "cosine"
    UNVERIFIED = "unverified"


@dataclass(frozen=True, slots=True)
class Quality:
    metric: Metric
    before: float | None  # the parent's accuracy, or 1.0 (cosine of the parent to itself)
    after: float | None

    @property
    def drop(self) -> float | None:
        return None if self.before is None or self.after is None else self.before - self.after

    @classmethod
    def of(cls, agreement: Mapping[str, Any] | None) -> Quality:
        """From what aiplane.runtime.measuring.agreement measured (None: no validation data)."""
        if agreement is None:
            return cls(Metric.UNVERIFIED, None, None)
        if "accuracy_before" in agreement:
            return cls(Metric.ACCURACY, float(agreement["accuracy_before"]), float(agreement["accuracy_after"]))
        if "cosine_mean" in agreement:
            return cls(Metric.COSINE, 1.0, float(agreement["cosine_mean"]))
        return cls(Metric.UNVERIFIED, None, None)


def check_max_drop(value: float) -> float:
    if not 0 <= value < 1:
        raise InvalidInput(f"max_accuracy_drop {value:g} is not a fraction; use e.g. 0.01 for one point.")
    return value


def refusal(q: Quality, max_drop: float, parent: str) -> str | None:
    """Why the optimized version may not be registered, or None when it passes (or is unverified)."""
    drop = q.drop
    if drop is None or drop <= max_drop + 1e-12:
        return None
    over = drop - max_drop
    if q.metric is Metric.ACCURACY:
        return (f"the INT8 version's accuracy is {q.after:.4f} against {q.before:.4f} for {parent}, a drop of "
                f"{drop * 100:.2f} points, {over * 100:.2f} over --max-accuracy-drop {max_drop * 100:g} points; "
                "nothing was registered (give representative --calibration data or allow a larger drop).")
    return (f"the INT8 version's outputs have a mean cosine similarity of {q.after:.4f} to {parent}'s, a drop of "
            f"{drop:.4f}, {over:.4f} over --max-accuracy-drop {max_drop:g}; nothing was registered "
            "(give representative --calibration data or allow a larger drop).")


def summary(q: Quality, max_drop: float) -> str:
    """One line for the version's record and the CLI."""
    if q.metric is Metric.UNVERIFIED:
        return f"{UNVERIFIED}: the parent has no validation data, so the gate could not compare them"
    assert q.before is not None and q.after is not None
    if q.metric is Metric.ACCURACY:
        return (f"accuracy {q.before:.4f} -> {q.after:.4f} ({(q.after - q.before) * 100:+.2f} points; "
                f"gate {max_drop * 100:g} points)")
    return f"cosine to FP32 {q.after:.4f} (gate >= {1 - max_drop:.4f})"
