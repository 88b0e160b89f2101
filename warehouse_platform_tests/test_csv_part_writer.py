import csv
import gzip
import hashlib

import pytest

from warehouse_platform.lib.csv_part_writer import write_csv_parts


def _rows(n):
    return [(str(i), f"value-{i}", "한글" * (i % 3)) for i in range(n)]


def _batches(rows, size):
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _read(part):
    with gzip.open(part.path, "rt", newline="") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize("slice_count", [1, 2, 4])
def test_parts_come_in_multiples_of_the_slice_count_and_keep_every_row(tmp_path, slice_count):
    rows = _rows(10_007)
    parts = write_csv_parts(("id", "v", "k"), _batches(rows, 1000), tmp_path, slice_count=slice_count)
    assert len(parts) % slice_count == 0
    read_back = []
    for part in parts:
        content = _read(part)
        assert content[0] == ["id", "v", "k"]
        assert len(content) - 1 == part.row_count
        read_back.extend(tuple(r) for r in content[1:])
    assert sorted(read_back) == sorted(rows)
    assert sum(p.row_count for p in parts) == len(rows)


def test_size_limit_opens_new_groups(tmp_path):
    rows = [(str(i), hashlib.sha256(str(i).encode()).hexdigest(), "") for i in range(40_000)]
    parts = write_csv_parts(("id", "v", "k"), _batches(rows, 2000), tmp_path, slice_count=2, max_part_bytes=200_000)
    assert len(parts) > 2 and len(parts) % 2 == 0
    # A part closes at the first batch boundary past the limit, so it overshoots by < one batch.
    assert all(p.content_length < 200_000 + 100_000 for p in parts)
    assert sum(p.row_count for p in parts) == len(rows)


def test_checksum_and_length_describe_the_bytes_on_disk_and_are_deterministic(tmp_path):
    rows = _rows(5000)
    first = write_csv_parts(("id", "v", "k"), _batches(rows, 500), tmp_path / "a", slice_count=2)
    second = write_csv_parts(("id", "v", "k"), _batches(rows, 500), tmp_path / "b", slice_count=2)
    for a, b in zip(first, second, strict=True):
        data = a.path.read_bytes()
        assert a.content_length == len(data)
        assert a.sha256 == hashlib.sha256(data).hexdigest()
        assert a.sha256 == b.sha256


def test_no_rows_means_no_parts(tmp_path):
    assert write_csv_parts(("id",), [[], []], tmp_path, slice_count=4) == []


def test_parts_are_handed_over_while_later_rows_are_still_being_produced(tmp_path):
    """A closed part is published (uploaded) before the next batch is even read, so a day
    never waits on disk whole before its first upload."""
    handed_over: list = []
    handed_over_when_asked: list[int] = []

    rows = [(str(i), hashlib.sha256(str(i).encode()).hexdigest(), "") for i in range(40_000)]

    def batches():
        for batch in _batches(rows, 1000):
            handed_over_when_asked.append(len(handed_over))
            yield batch

    parts = write_csv_parts(
        ("id", "v", "k"), batches(), tmp_path, slice_count=2, max_part_bytes=100_000, on_part_written=handed_over.append,
    )
    assert len(parts) >= 6 and handed_over == parts
    # Counts only grow, a group (two parts) at a time, and the first group was out before the last batch was read.
    assert handed_over_when_asked == sorted(handed_over_when_asked)
    assert handed_over_when_asked[-1] >= len(parts) - 2 > 0
    assert {n % 2 for n in handed_over_when_asked} == {0}
