"""Sentence meaning as vectors, from a static embedding model shipped inside a PyPI package.

Lexical overlap cannot tell that "A stiff layer of cellulose around the cell" defines *cell wall*
and not *mitochondrion* when neither word appears; a sentence embedding can. The model is
WordLlama's `l2_supercat_256` (the `wordllama` package ships its weights, 32,000 token vectors of
256 dimensions distilled from Llama 2's token embeddings and trained on sentence pairs, and its
tokenizer): a text's vector is the mean of its tokens' vectors, so embedding the 30 texts of a
flashcard set costs about a millisecond and a 2,000-word document about 8 ms on 2 cores, with no
PyTorch and no network.

Why not `wordllama`'s own API: its loader looks for the tokenizer in a folder the wheel does not
ship (`tokenizer/`; the file is in `tokenizers/`) and then downloads it from a model hub, and its
`embed` pads every batch to its longest text (about 2.5 times slower here); importing it also
calls `logging.basicConfig`. So this module reads the two files the package ships with
`safetensors` and `tokenizers` (its own dependencies) and pools the vectors itself.

Loaded once per process on the first assessment that needs it (the POST path, never a cold
start; about 0.25 s), kept in half precision (16 MB; rows are widened only when gathered).
"""

from __future__ import annotations

import os
import threading
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

_PACKAGE = "wordllama"
_WEIGHTS = "wordllama/weights/l2_supercat_256.safetensors"
_TOKENIZER = "wordllama/tokenizers/l2_supercat_tokenizer_config.json"
_lock = threading.Lock()
_model: tuple[Any, Any] | None = None


def _load() -> tuple[Any, Any]:
    """(token vectors, tokenizer) from the installed package's files, without importing the package."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                # One BLAS thread: the products here are small (at most a few hundred sentences), and
                # OpenBLAS's worker threads spin on the other core, doubling the CPU an assessment costs
                # (36 against 18 ms on 2 cores) in a server whose other threads need it. numpy reads
                # this when it is first imported, which in generate is here.
                os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
                from safetensors.numpy import load_file  # lazy: numpy and the Rust tokenizer, ~0.25 s
                from tokenizers import Tokenizer

                dist = metadata.distribution(_PACKAGE)
                vectors = load_file(str(dist.locate_file(_WEIGHTS)))["embedding.weight"]
                tokenizer = Tokenizer.from_file(str(dist.locate_file(_TOKENIZER)))
                tokenizer.no_padding()
                tokenizer.no_truncation()
                _model = (vectors, tokenizer)
    return _model


def embed(texts: list[str]) -> np.ndarray:
    """One unit vector per text (mean of its token vectors); an empty text gets a zero vector."""
    vectors, tokenizer = _load()  # first: it decides how numpy starts (one BLAS thread)
    import numpy as np

    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    lengths = np.array([len(e.ids) for e in encodings])
    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
    filled = lengths > 0
    if filled.any():
        ids = np.concatenate([np.asarray(e.ids, dtype=np.int64) for e in encodings if e.ids])
        rows = vectors[ids].astype(np.float32)
        starts = np.concatenate(([0], np.cumsum(lengths[filled])[:-1]))
        out[filled] = np.add.reduceat(rows, starts, axis=0) / lengths[filled, None]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def similarity(left: list[str], right: list[str]) -> list[list[float]]:
    """Cosine similarity of every text on the left with every text on the right, floored at 0."""
    matrix = embed(left) @ embed(right).T
    import numpy as np

    return np.clip(matrix, 0.0, None).tolist()
