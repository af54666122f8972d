"""One pass over a catalogue's item vectors for every product a retrieval needs.

A turn multiplies the item matrix (``n x 384`` float32: 307 MB at 200k items, more than the caches) by a
few query vectors: the dense search's text vector, each liked item's vector (neighbours) and the transfer
ranker's two-tower query vector. Each product is memory-bound, so doing them one after another reads the
matrix once per product; :func:`vector_pass` reads each cache-sized block of rows once and computes every
product on it while it is in cache.

It also never copies the allowed rows of a large matrix (``vectors[idx]``: 24 ms for 20% of 200k rows on the
dev box, mostly page faults on the fresh 61 MB copy): the rows are gathered a block at a time into one
small reused buffer.

Values are bit for bit those of the plain expressions the retriever and the two-tower used before
(``vectors[rows] @ v``, ``vectors @ v`` and a 256-row blocked ``vectors @ Q``): the same BLAS kernels run
on the same row blocks, so rankings do not move (``tests/retrieval/test_fast_paths.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK = 256  # rows per block: 384 KB of float32 x 384, well inside a core's L2


def few_rows(rows: np.ndarray, n: int) -> bool:
    """Whether gathering ``rows`` beats scoring all ``n`` rows and indexing (under a quarter of them)."""
    return rows.size * 4 < n


def vector_pass(vectors: np.ndarray, products: Sequence[np.ndarray], rows: np.ndarray | None = None,
                block: int = BLOCK) -> list[np.ndarray]:
    """``[vectors[rows] @ q for q in products]`` (``rows=None``: every row), reading each block of rows once.

    Each ``q`` is a ``(d,)`` vector (a matrix-vector product per block) or a ``(d, k)`` matrix (a
    matrix product per block); results are ``(len(rows),)`` and ``(len(rows), k)`` float arrays."""
    if rows is None and len(products) == 1 and products[0].ndim == 1:
        return [vectors @ products[0]]  # one streaming matrix-vector product (the same values as in blocks)
    n = vectors.shape[0] if rows is None else rows.size
    outs = [np.empty((n, *q.shape[1:]), dtype=np.result_type(vectors, q)) for q in products]
    if n == 0 or not products:
        return outs
    buf = None if rows is None else np.empty((min(block, n), vectors.shape[1]), dtype=vectors.dtype)
    for start in range(0, n, block):
        stop = min(start + block, n)
        if rows is None:
            part = vectors[start:stop]
        else:
            part = buf[: stop - start]
            np.take(vectors, rows[start:stop], axis=0, out=part)
        for q, out in zip(products, outs, strict=True):
            np.matmul(part, q, out=out[start:stop])
    return outs


__all__ = ["BLOCK", "few_rows", "vector_pass"]
