"""Evidence, gathered while staging, that a batch's keys are unique, in fixed memory.

Checking a fresh day for duplicate keys in the warehouse costs a full aggregation over it (on
2M rows, more than the COPY itself). An extract comes in key order, so the stage compares
neighbours instead (staged_files/part_writer.py); rows staged in any other order (Python rows, landed
files) pass through here, which hashes the key as they pass: a Bloom filter remembers the keys seen (fixed size, whatever the
row count), and exact hash equality catches duplicates inside one batch of rows. Keys that
*might* repeat are kept as candidates; the loader then checks only those rows in SQL. A Bloom
filter never misses a key it has seen, so "no candidates" means "no duplicates". Past
`max_candidates` the evidence is given up (None) and the loader checks everything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_FILTER_BITS = 1 << 26  # 8 MiB; about 1 false candidate in 6,000 keys at 2M keys
DEFAULT_HASHES = 4
DEFAULT_MAX_CANDIDATES = 100_000


class KeyUniquenessTracker:
    def __init__(
        self,
        key_indexes: Sequence[int],
        filter_bits: int = DEFAULT_FILTER_BITS,
        hashes: int = DEFAULT_HASHES,
        max_candidates: int = DEFAULT_MAX_CANDIDATES,
    ) -> None:
        self._keys = list(key_indexes)
        self._bits = np.zeros(filter_bits // 8, dtype=np.uint8)
        if filter_bits & (filter_bits - 1) or filter_bits < 64:
            raise ValueError("filter_bits must be a power of two")
        self._mask = np.uint64(filter_bits - 1)
        self._k = hashes
        self._max = max_candidates
        self._candidates: set[tuple] | None = set()

    def _hash(self, columns: Sequence[np.ndarray]) -> np.ndarray:
        # Imported here: only rows staged from Python reach this tracker (extracts and log
        # structuring find repeats in key order), and pandas is a large part of a run worker's
        # peak RSS otherwise.
        import pandas as pd

        if len(columns) == 1:
            # categorize=False: hashing directly is several times faster than factorizing first
            # when, as with keys, nearly every value is distinct.
            return pd.util.hash_array(columns[0], categorize=False)
        frame = pd.DataFrame({i: c for i, c in enumerate(columns)})
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()

    def observe(self, rows: Sequence[Sequence]) -> None:
        """Rows (sequences holding the key at `key_indexes`)."""
        if self._candidates is None or not rows:
            return
        self.observe_columns([np.fromiter((r[j] for r in rows), dtype=object, count=len(rows)) for j in self._keys])

    def observe_columns(self, columns: Sequence[np.ndarray]) -> None:
        """The key's columns of a batch of rows (one array per key column, in key order)."""
        if self._candidates is None or not len(columns[0]):
            return
        n = len(columns[0])
        h = self._hash(columns)
        # k positions per key by double hashing; the filter size is a power of two, so a mask
        # stands in for the modulo.
        h1, h2 = h & np.uint64(0xFFFFFFFF), (h >> np.uint64(32)) | np.uint64(1)
        steps = np.arange(self._k, dtype=np.uint64)[:, None]
        positions = ((h1[None, :] + steps * h2[None, :]) & self._mask).ravel()
        byte_index = (positions >> np.uint64(3)).astype(np.int64)
        bit = np.left_shift(np.uint8(1), (positions & np.uint64(7)).astype(np.uint8))
        seen = ((self._bits[byte_index] & bit) != 0).reshape(self._k, n).all(axis=0)
        ordered = np.sort(h)
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        if len(repeated):
            seen |= np.isin(h, repeated)
        suspect = np.flatnonzero(seen)
        np.bitwise_or.at(self._bits, byte_index, bit)
        for i in suspect:
            self._candidates.add(tuple(c[i] for c in columns))
        if len(self._candidates) > self._max:
            self._candidates = None

    @property
    def candidates(self) -> list[tuple] | None:
        """Keys that may occur more than once; [] proves uniqueness; None means unknown."""
        return None if self._candidates is None else sorted(self._candidates)
