from decimal import Decimal

import pytest

from aiplane.domain import quantities
from aiplane.domain.errors import InvalidInput


@pytest.mark.parametrize("text,expected", [("16Gi", 16 * 2**30), ("512Mi", 512 * 2**20), ("1G", 10**9),
                                           ("1.5Gi", 3 * 2**29), (1024, 1024), ("0", 0)])
def test_memory_accepts_kubernetes_quantities(text, expected):
    assert quantities.memory_bytes("memory", text) == expected


@pytest.mark.parametrize("text", ["16Gb", "16 GB", "-1Gi", "Gi", "", "1e3", "16gi", True])
def test_memory_rejects_what_kubernetes_would_reject_naming_the_value(text):
    with pytest.raises(InvalidInput, match="memory"):
        quantities.memory_bytes("memory", text)


@pytest.mark.parametrize("text,milli", [("2", 2000), ("500m", 500), (1.5, 1500), ("0.25", 250)])
def test_cpus_become_millicpus(text, milli):
    assert quantities.millicpus("cpus", text) == milli


def test_cpus_finer_than_a_millicpu_are_rejected():
    with pytest.raises(InvalidInput, match="millicpu"):
        quantities.millicpus("cpus", "0.0005")


def test_formatting_round_trips():
    assert quantities.format_memory(16 * 2**30) == "16Gi"
    assert quantities.format_cpus(1500) == "1500m"
    assert quantities.format_cpus(8000) == "8"
    assert quantities.parse("x", "1k") == Decimal(1000)


@pytest.mark.parametrize("value", ["-1", "x", "1.5"])
def test_counts_must_be_whole_and_not_negative(value):
    with pytest.raises(InvalidInput):
        quantities.count("gpus", value)
