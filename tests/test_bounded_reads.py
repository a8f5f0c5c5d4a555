"""Bounded reads (nnlab.results.bounded): regular files only, a size cap, a nesting limit, no long integers."""

import json
import os
import time

import pytest

from nnlab.results import bounded, limits


def test_reads_small_json(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"a": [1, 2.5, 'x"[y'], "b": {"c": None}}))
    assert bounded.read_json(path) == {"a": [1, 2.5, 'x"[y'], "b": {"c": None}}


@pytest.mark.parametrize("levels", [limits.JSON_MAX_DEPTH + 1, 100_000])
def test_deep_json_is_unreadable_without_recursion(tmp_path, levels):
    path = tmp_path / "deep.json"
    path.write_text("[" * levels + "]" * levels)
    started = time.perf_counter()
    with pytest.raises(bounded.Unreadable, match="levels deep"):
        bounded.read_json(path)
    assert time.perf_counter() - started < 2


def test_depth_ignores_brackets_in_strings_and_escapes():
    text = json.dumps({"a": [1, "[[[\\", {"b": '"[{'}], "c": '\\\\"{{'})
    assert bounded.nesting_depth(text) == 3
    assert bounded.loads(text)["c"] == '\\\\"{{'


def test_long_integer_is_unreadable(tmp_path):
    path = tmp_path / "int.json"
    path.write_text('{"pid": ' + "9" * 5000 + "}")
    with pytest.raises(bounded.Unreadable, match="digits"):
        bounded.read_json(path)


def test_size_cap(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"x": "y" * 2000}))
    with pytest.raises(bounded.Unreadable, match="bytes"):
        bounded.read_json(path, max_bytes=1000)


def test_device_and_fifo_are_unreadable_without_hanging(tmp_path):
    with pytest.raises(bounded.Unreadable, match="not a regular file"):
        bounded.read_json("/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.perf_counter()
    with pytest.raises(bounded.Unreadable, match="not a regular file"):
        bounded.read_json(fifo)
    assert time.perf_counter() - started < 2


def test_directory_and_missing_file_raise_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        bounded.read_json(tmp_path / "missing.json")
    with pytest.raises(bounded.Unreadable):
        bounded.read_json(tmp_path)


def test_not_utf8_is_unreadable(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(bounded.Unreadable, match="UTF-8"):
        bounded.read_json(path)


def test_depth_is_counted_across_chunks():
    text = json.dumps({"a": ['x"[[[', {"b": "\\\\"}, [[["{"]]]]})
    expected = bounded.nesting_depth(text)
    assert expected == 5
    for size in (1, 2, 3, 7, 64):
        assert bounded.nesting_depth(text, chunk_bytes=size) == expected, size


def test_read_file_reports_size_and_refuses_a_link_when_asked(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as stream:
        stream.truncate(5000)
    with pytest.raises(bounded.TooLarge) as caught:
        bounded.read_file(big, 4999)
    assert caught.value.size == 5000 and isinstance(caught.value, bounded.OverLimit)
    (tmp_path / "link").symlink_to(big)
    directory = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        data, info = bounded.read_file("link", 5000, dir_fd=directory)
        assert len(data) == info.st_size == 5000
        with pytest.raises(OSError):
            bounded.read_file("link", 5000, dir_fd=directory, follow_symlinks=False)
    finally:
        os.close(directory)
