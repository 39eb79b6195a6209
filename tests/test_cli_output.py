"""`write_atomic`: the complete new file or the untouched old one, never half of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from planner.output import write_atomic


def test_writes_the_text_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.yaml"
    assert write_atomic(target, "version: 1\nsystem: ü\n") == target
    assert target.read_text(encoding="utf-8") == "version: 1\nsystem: ü\n"
    assert os.listdir(tmp_path) == ["plan.yaml"]


def test_replaces_an_existing_file_with_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "plan.txt"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    target = tmp_path / "plan.txt"
    target.write_text("old")

    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "ok so far \udcff then an unencodable surrogate")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["plan.txt"]


def test_a_missing_directory_is_an_oserror_naming_the_target(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "plan.txt"
    with pytest.raises(FileNotFoundError) as caught:
        write_atomic(target, "x")
    assert caught.value.filename == str(target)  # not the temporary file's name
    assert caught.value.strerror == "cannot write the file: its directory does not exist"


def test_the_cli_names_the_output_file_it_cannot_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from planner import cli

    target = tmp_path / "nope" / "plan.txt"
    spec = Path(__file__).resolve().parent.parent / "examples" / "internal_tool" / "system.yaml"
    assert cli.main(["plan", str(spec), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == (f"reliability: error: {target}: cannot write the file: "
                   "its directory does not exist\n")


def test_a_directory_as_target_is_an_oserror_and_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(OSError):
        write_atomic(tmp_path / "dir", "x")
    assert sorted(os.listdir(tmp_path)) == ["dir"]
