"""A validation .npz is checked against its zip and .npy headers before anything is unpacked:
a decompression bomb is refused in one sentence, unread."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from aiplane.domain.errors import InvalidInput
from aiplane.runtime.onnx_model import load_validation


def _npz(**arrays: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def test_a_small_validation_file_loads():
    arrays = load_validation(_npz(X=np.ones((4, 3), np.float32), y=np.arange(4)))
    assert arrays["X"].shape == (4, 3) and list(arrays["y"]) == [0, 1, 2, 3]


def test_a_file_that_unpacks_past_the_limit_is_refused_unread():
    bomb = _npz(X=np.zeros((1 << 20,), np.float32))  # 4 MiB of zeros, a few KiB packed
    assert len(bomb) < 64 << 10
    with pytest.raises(InvalidInput, match=r"would unpack to \d+ bytes in 1 arrays, over the limit of 1048576"):
        load_validation(bomb, limit=1 << 20)


def test_an_array_header_declaring_more_than_its_member_holds_is_refused():
    """numpy allocates what the .npy header declares before reading: 10^12 floats here."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("X.npy", header.getvalue() + b"\0" * 64)
    with pytest.raises(InvalidInput, match="declares 4000000000000 bytes but holds"):
        load_validation(out.getvalue())


def test_too_many_members_are_refused():
    with pytest.raises(InvalidInput, match="in 65 arrays"):
        load_validation(_npz(**{f"a{i}": np.zeros(1) for i in range(65)}))


def test_a_file_that_is_not_an_archive_is_one_sentence():
    with pytest.raises(InvalidInput, match="not a NumPy .npz archive"):
        load_validation(b"plain text")
