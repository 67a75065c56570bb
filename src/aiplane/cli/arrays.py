"""Reading the NumPy files users give the CLI, with one sentence for each way they can be wrong.

Never with pickles allowed: a .npy of objects is code to run, not data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiplane.domain.errors import InvalidInput

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float


def load_npy(path: Path) -> Any:
    """One numeric array saved with numpy.save, finite, for a JSON inference request."""
    import numpy as np

    try:
        with path.open("rb") as f:
            magic = f.read(len(_NPY_MAGIC))
            if magic.startswith(_ZIP_MAGIC):
                raise InvalidInput(f"{path} is a .npz archive, not one array; save the rows with "
                                   "numpy.save('rows.npy', X).")
            if magic != _NPY_MAGIC:
                raise InvalidInput(f"{path} is not a .npy file (it does not start as one); save the rows with "
                                   "numpy.save('rows.npy', X).")
            f.seek(0)
            array = np.lib.format.read_array(f, allow_pickle=False)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path} ({exc.strerror}); give a .npy file.") from None
    except ValueError as exc:  # a damaged header, a short file, or an object array
        reason = "it holds Python objects, which are never unpickled" if "allow_pickle" in str(exc) else \
            "it is damaged or cut short"
        raise InvalidInput(f"{path} cannot be read as a .npy array ({reason}); save numbers with "
                           "numpy.save('rows.npy', X).") from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise InvalidInput(f"{path} holds {array.dtype} values, not numbers; save the model's numeric features.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInput(f"{path} holds NaN or infinite values, which a JSON request cannot carry; "
                           "replace them before predicting.")
    return array
