import csv
import gzip
import hashlib
import io

import pytest

from warehouse_platform.staged_files.part_writer import (
    PartWriter,
    encode_rows,
    write_csv_parts,
)

COLUMNS = ("id", "v", "k")


def _rows(n):
    return [(str(i), f"value-{i}", "한글" * (i % 3)) for i in range(n)]


def _batches(rows, size):
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _read(part):
    with gzip.open(part.path, "rt", newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _write(rows, directory, batch=1000, **options):
    options.setdefault("slice_count", 2)
    return write_csv_parts(COLUMNS, encode_rows(_batches(rows, batch)), directory, **options)


@pytest.mark.parametrize("slice_count", [1, 2, 4])
def test_parts_come_in_multiples_of_the_slice_count_and_keep_every_row(tmp_path, slice_count):
    rows = _rows(10_007)
    parts = _write(rows, tmp_path, slice_count=slice_count, block_bytes=20_000).parts
    assert len(parts) % slice_count == 0
    read_back = []
    for part in parts:
        content = _read(part)
        assert content[0] == list(COLUMNS)
        assert len(content) - 1 == part.row_count
        read_back.extend(tuple(r) for r in content[1:])
    assert sorted(read_back) == sorted(rows)
    assert sum(p.row_count for p in parts) == len(rows)


def test_no_part_passes_the_size_limit_compressed_or_not_and_full_groups_open_new_ones(tmp_path):
    rows = [(str(i), hashlib.sha256(str(i).encode()).hexdigest(), None) for i in range(40_000)]
    parts = _write(rows, tmp_path, max_part_bytes=200_000, block_bytes=30_000).parts
    assert len(parts) > 2 and len(parts) % 2 == 0
    for part in parts:
        assert part.content_length <= 200_000
        assert len(gzip.decompress(part.path.read_bytes())) <= 200_000
    assert sum(p.row_count for p in parts) == len(rows)


def test_checksum_and_length_describe_the_bytes_on_disk_and_do_not_depend_on_how_the_bytes_arrived(tmp_path):
    """The source's COPY hands over one record at a time, in messages whose size is its own
    business: the parts (and their checksums, which the ledger keys on) depend on the records only."""
    rows = _rows(5000)
    data = b"".join(encode_rows([rows]))
    records = data.splitlines(keepends=True)
    first = write_csv_parts(COLUMNS, records, tmp_path / "a", slice_count=2, block_bytes=10_000).parts
    second = write_csv_parts(COLUMNS, [data[i : i + 777] for i in range(0, len(data), 777)], tmp_path / "b",
                             slice_count=2, block_bytes=10_000).parts
    assert len(first) == len(second) == 2
    for a, b in zip(first, second, strict=True):
        on_disk = a.path.read_bytes()
        assert a.content_length == len(on_disk)
        assert a.sha256 == hashlib.sha256(on_disk).hexdigest()
        assert a.sha256 == b.sha256


def test_no_rows_means_no_parts(tmp_path):
    assert write_csv_parts(("id",), encode_rows([[], []]), tmp_path, slice_count=4).parts == []
    header_only = PartWriter(("id",), tmp_path, slice_count=4, header_in_stream=True)
    header_only.write(b"id\n")
    assert header_only.close().parts == []


def test_parts_are_handed_over_while_later_rows_are_still_being_produced(tmp_path):
    """A closed part is published (uploaded) before the next batch is even read, so a day
    never waits on disk whole before its first upload."""
    handed_over: list = []
    handed_over_when_asked: list[int] = []

    rows = [(str(i), hashlib.sha256(str(i).encode()).hexdigest(), None) for i in range(40_000)]

    def chunks():
        for chunk in encode_rows(_batches(rows, 1000)):
            handed_over_when_asked.append(len(handed_over))
            yield chunk

    parts = write_csv_parts(
        COLUMNS, chunks(), tmp_path, slice_count=2, max_part_bytes=200_000, block_bytes=30_000,
        on_part_written=handed_over.append,
    ).parts
    assert len(parts) >= 6 and handed_over == parts
    # Counts only grow, a group (two parts) at a time, and the first group was out before the last batch was read.
    assert handed_over_when_asked == sorted(handed_over_when_asked)
    assert handed_over_when_asked[-1] >= len(parts) - 2 > 0
    assert {n % 2 for n in handed_over_when_asked} == {0}


@pytest.mark.parametrize("position", [0, 1, 2_999, 3_000, 7_777, 11_999])
def test_the_widest_value_is_found_in_its_file_at_its_line_across_blocks_and_parts(tmp_path, position):
    rows = _rows(12_000)
    rows[position] = (rows[position][0], "ü" * 100, "")
    parts = _write(rows, tmp_path, slice_count=2, block_bytes=5_000, measure_widths_of=("v", "k")).parts
    assert len(parts) == 2
    holders = [p for p in parts if p.widest["v"].bytes == 200]
    assert len(holders) == 1
    widest = holders[0].widest["v"]
    assert _read(holders[0])[widest.line - 1] == list(rows[position])
    assert widest.preview == "ü" * 60 + "... (100 characters)"
    # A narrower part records its own widest value (and where it is) too.
    other = next(p for p in parts if p is not holders[0])
    assert _read(other)[other.widest["v"].line - 1][1] == max((r[1] for r in _read(other)[1:]), key=len)


def test_a_quoted_newline_stays_inside_its_record_and_lines_count_records(tmp_path):
    """Blocks end only at a record's end; a line number is the record's (header = 1), as Postgres COPY counts."""
    # Values of many lengths, so that blocks would end anywhere, inside quotes too, if allowed.
    rows = [(str(i), f'say "hi"\n{"x" * (i % 17)}' if i % 3 == 0 else f"v{i}", "") for i in range(3_000)]
    rows[2_222] = ("2222", "w" * 90 + "\n" + "x", "")
    parts = _write(rows, tmp_path, slice_count=1, block_bytes=2_000, measure_widths_of=("v",)).parts
    (part,) = parts
    assert part.row_count == 3_000
    assert [tuple(r) for r in _read(part)[1:]] == rows
    assert part.widest["v"].line == 2_222 + 2


def test_keys_in_key_order_name_exactly_the_repeated_ones_also_across_blocks_and_parts(tmp_path):
    keys = [f"{i:06d}" for i in range(20_000)]
    keys[5_000] = keys[4_999]  # neighbours wherever the blocks end
    keys.insert(12_000, keys[12_000])
    rows = [(k, "v", "") for k in keys] + [("", "v", ""), ("", "v", "")]  # NULL keys: the load's own check
    for block_bytes in (1_000, 7_000, 1 << 20):
        written = _write(rows, tmp_path / str(block_bytes), slice_count=2, block_bytes=block_bytes, key_columns=("id",),
                         keys_in_order=True)
        assert written.duplicate_candidates == [(keys[4_999],), (keys[12_000],)]


@pytest.mark.parametrize("block_bytes", [1_000, 7_000])
def test_a_repeated_key_whose_two_rows_are_the_last_of_one_block_and_the_first_of_the_next_is_named(tmp_path, block_bytes):
    """The pair exactly on a block boundary: neither block sees a repeat inside it, so only the
    comparison of one block's last key with the next block's first finds it. Keys have one width,
    so repeating a key moves no boundary: the first write shows where the blocks end."""
    keys = [f"{i:06d}" for i in range(20_000)]

    def blocks_and_candidates(keys, directory):
        writer = PartWriter(COLUMNS, directory, slice_count=2, block_bytes=block_bytes, key_columns=("id",), keys_in_order=True)
        for batch in encode_rows(_batches([(k, "v", "") for k in keys], 1000)):
            writer.write(batch)
        written = writer.close()
        return [stats for _, stats in sorted(writer.block_stats, key=lambda s: s[0])], written.duplicate_candidates

    blocks, candidates = blocks_and_candidates(keys, tmp_path / "unique")
    assert candidates == [] and len(blocks) > 10
    boundary = blocks[len(blocks) // 2]  # the middle block: its first key follows the previous block's last
    at = keys.index(boundary.first_key[0])
    keys[at] = keys[at - 1]
    blocks, candidates = blocks_and_candidates(keys, tmp_path / "repeat")
    middle = blocks[len(blocks) // 2]
    assert middle.first_key == blocks[len(blocks) // 2 - 1].last_key == (keys[at],)  # on the boundary
    assert all(not b.repeated_keys for b in blocks)  # no block holds the pair whole
    assert candidates == [(keys[at],)]


def test_keys_in_any_order_are_candidates_when_they_may_repeat(tmp_path):
    rows = [(str(i), "v", "") for i in range(5_000)] + [("17", "again", "")]
    written = _write(rows, tmp_path, block_bytes=4_000, key_columns=("id",))
    assert ("17",) in written.duplicate_candidates
    assert _write(rows[:-1], tmp_path / "unique", key_columns=("id",)).duplicate_candidates == []


def test_a_header_the_check_refuses_stops_the_batch_before_any_part(tmp_path):
    writer = PartWriter(COLUMNS, tmp_path, slice_count=2, header_in_stream=True,
                        check_header=lambda names: None if names == list(COLUMNS) else f"got {names}")
    with pytest.raises(ValueError, match=r"got \['id', 'k', 'v'\]"):
        writer.write(b"id,k,v\n" + b"1,a,b\n" * 10)
        writer.close()
    assert list(tmp_path.iterdir()) == []


def test_python_rows_write_null_as_an_empty_field_and_empty_text_quoted_and_quote_what_needs_it():
    (data,) = encode_rows([[("1", None, ""), ("2", 'a "b", c', "x\ny")]])
    assert data == b'1,,""\n2,"a ""b"", c","x\ny"\n'
    assert list(csv.reader(io.StringIO(data.decode()))) == [["1", "", ""], ["2", 'a "b", c', "x\ny"]]


def test_python_rows_with_a_carriage_return_keep_it_inside_a_quoted_field(tmp_path):
    rows = [("1", "carriage\rreturn", None), ("2", "", 'x,"y"')]
    (data,) = encode_rows([rows])
    assert data == b'1,"carriage\rreturn",\n2,"","x,""y"""\n'
    (part,) = write_csv_parts(COLUMNS, [data], tmp_path, slice_count=1).parts
    assert part.row_count == 2 and _read(part)[1:] == [["1", "carriage\rreturn", ""], ["2", "", 'x,"y"']]


@pytest.mark.parametrize(
    ("sql_type", "inside", "outside"),
    [
        ("smallint", -(2**15), -(2**15) - 1),
        ("int", 2**31 - 1, 3_000_000_000),
        # Beyond a double's precision: 2**63 - 1 and 2**63 are the same double.
        ("bigint", 2**63 - 1, 2**63),
    ],
)
def test_a_value_outside_its_integer_type_is_refused_while_staging_naming_the_key(tmp_path, sql_type, inside, outside):
    from warehouse_platform.staged_files.part_writer import ValueOutOfRange

    ranged = {"check_ranges_of": [("id", sql_type)], "key_columns": ("k",)}
    rows = [(str(inside), "near the bound", "a"), ("12x", "not a number: COPY's to refuse", "b"), ("", "NULL", "c")]
    assert sum(p.row_count for p in _write(rows, tmp_path / "fits", **ranged).parts) == 3
    with pytest.raises(ValueOutOfRange) as raised:
        _write([*rows, (str(outside), "too big", "the-key")], tmp_path / "outgrown", **ranged)
    assert (raised.value.column, raised.value.value, raised.value.key) == ("id", outside, {"k": "the-key"})
    assert f"key k=the-key has id = {outside}, outside the column's declared type {sql_type}" in str(raised.value)
