"""Atomic file and folder writes: the old content or the new, never half."""

import os

import pytest

from softreg._atomic import atomic_folder, atomic_write


def test_atomic_write_replaces_on_success(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_write(path, "w") as f:
        f.write("new")
        assert path.read_text() == "old"  # not visible before the end
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]  # no temporary left behind


def test_atomic_write_leaves_the_old_file_on_error(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(path) as f:
        f.write(b"half")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_keeps_the_permissions_of_an_existing_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    os.chmod(path, 0o640)
    with atomic_write(path, "w") as f:
        f.write("new")
    assert path.stat().st_mode & 0o777 == 0o640


def test_atomic_folder_swaps_in_the_new_folder(tmp_path):
    target = tmp_path / "report"
    target.mkdir()
    (target / "old.txt").write_text("x")
    with atomic_folder(target) as tmp:
        (tmp / "new.txt").write_text("y")
        assert (target / "old.txt").exists()
    assert sorted(os.listdir(target)) == ["new.txt"]
    assert os.listdir(tmp_path) == ["report"]


def test_atomic_folder_leaves_the_old_folder_on_error(tmp_path):
    target = tmp_path / "report"
    target.mkdir()
    (target / "old.txt").write_text("x")
    with pytest.raises(ValueError), atomic_folder(target) as tmp:
        (tmp / "new.txt").write_text("y")
        raise ValueError
    assert os.listdir(target) == ["old.txt"]
    assert os.listdir(tmp_path) == ["report"]


def test_atomic_folder_needs_an_existing_parent(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"), \
            atomic_folder(tmp_path / "missing" / "report"):
        pass
