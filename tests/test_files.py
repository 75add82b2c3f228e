"""The one atomic writer: whole files or none, whoever writes (pictures, models, histories)."""

from __future__ import annotations

import os

import pytest

from autograd.files import write_atomic


def test_writes_bytes_and_text_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    write_atomic(path, "first ✓")
    assert path.read_text(encoding="utf-8") == "first ✓"
    write_atomic(str(path), b"second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    path.write_text("old", encoding="utf-8")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_a_missing_folder_is_an_error_not_a_partial_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "no" / "such.txt", "x")
    assert list(tmp_path.iterdir()) == []
