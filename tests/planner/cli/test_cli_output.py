"""`write_atomic`: the complete new file or the untouched old one, never half of it."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cli.output import write_atomic, write_files, write_into_directory
from tests.paths import ROOT_DIR

SPEC = str(ROOT_DIR / "examples" / "internal_tool" / "system.yaml")


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
    assert caught.value.strerror == (
        f"cannot write the file: its directory {tmp_path / 'nope'} does not exist"
    )


def test_the_cli_names_the_output_file_it_cannot_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from planner import cli

    target = tmp_path / "nope" / "plan.txt"
    spec = ROOT_DIR / "examples" / "internal_tool" / "system.yaml"
    assert cli.main(["plan", str(spec), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"reliability: error: {target}: cannot write the file: "
        f"its directory {target.parent} does not exist\n"
    )


def test_a_directory_as_target_is_an_oserror_and_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(OSError) as caught:
        write_atomic(tmp_path / "dir", "x")
    assert (caught.value.filename, caught.value.strerror) == (
        str(tmp_path / "dir"),
        "cannot write the file: it is a directory",
    )
    assert sorted(os.listdir(tmp_path)) == ["dir"]
    assert os.listdir(tmp_path / "dir") == []


def test_the_cli_names_a_directory_given_as_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from planner import cli

    (tmp_path / "out").mkdir()
    assert cli.main(["plan", SPEC, "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"reliability: error: {tmp_path / 'out'}: cannot write the file: it is a directory\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary file left beside it


def test_a_file_in_place_of_a_directory_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep")
    target = tmp_path / "notes.txt" / "sub" / "plan.yaml"
    with pytest.raises(NotADirectoryError) as caught:
        write_atomic(target, "x")
    assert (caught.value.filename, caught.value.strerror) == (
        str(target),
        f"cannot write the file: {tmp_path / 'notes.txt'} is not a directory",
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_directory_that_refuses_new_files_says_so_not_that_it_is_missing() -> None:
    with pytest.raises(OSError) as caught:
        write_atomic("/proc/x.yaml", "x")
    assert caught.value.filename == "/proc/x.yaml"
    assert caught.value.strerror == (
        "cannot write the file: cannot create a file in /proc (No such file or directory)"
    )


# ------------------------------------------------------------------------ several files at once


def test_write_files_writes_every_file(tmp_path: Path) -> None:
    files = {tmp_path / "a.yml": "a\n", tmp_path / "b.yml": "b\n"}
    assert write_files(files) == list(files)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.yml": "a\n", "b.yml": "b\n"}


def test_a_failing_second_file_leaves_the_first_unwritten(tmp_path: Path) -> None:
    (tmp_path / "old.yml").write_text("old")
    (tmp_path / "dir").mkdir()
    files = {tmp_path / "old.yml": "new", tmp_path / "new.yml": "new", tmp_path / "dir": "x"}
    with pytest.raises(IsADirectoryError) as caught:
        write_files(files)
    assert caught.value.filename == str(tmp_path / "dir")
    assert sorted(os.listdir(tmp_path)) == ["dir", "old.yml"]
    assert (tmp_path / "old.yml").read_text() == "old"


def test_a_replace_failing_midway_restores_the_files_already_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.yml").write_text("old a")
    real_replace = os.replace
    calls: list[str] = []

    def replace(src: str, dst: str | Path) -> None:
        calls.append(Path(dst).name)
        if Path(dst).name == "c.yml":
            raise OSError(errno.EXDEV, "Invalid cross-device link", src)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    files = {tmp_path / n: f"new {n}" for n in ("a.yml", "b.yml", "c.yml")}
    with pytest.raises(OSError) as caught:
        write_files(files)
    monkeypatch.undo()
    assert calls[:3] == ["a.yml", "b.yml", "c.yml"]
    assert (caught.value.filename, caught.value.strerror) == (
        str(tmp_path / "c.yml"),
        "cannot write the file: Invalid cross-device link",
    )
    assert sorted(os.listdir(tmp_path)) == ["a.yml"]
    assert (tmp_path / "a.yml").read_text() == "old a"


def test_write_into_directory_removes_the_directories_it_made_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def replace(src: str, dst: str | Path) -> None:
        if Path(dst).name == "2.md":
            raise OSError(errno.ENOSPC, "No space left on device", src)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space left"):
        write_into_directory(tmp_path / "a" / "b", {"1.md": "one", "2.md": "two"})
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    assert write_into_directory(tmp_path / "a" / "b", {"1.md": "one", "2.md": "two"}) == [
        tmp_path / "a" / "b" / "1.md",
        tmp_path / "a" / "b" / "2.md",
    ]
    assert (tmp_path / "a" / "b" / "2.md").read_text() == "two"


@settings(max_examples=40, deadline=None)
@given(
    existing=st.lists(st.booleans(), min_size=1, max_size=5),
    fail_at=st.integers(min_value=0, max_value=5),
    step=st.sampled_from(["replace", "backup"]),
)
def test_write_files_is_all_or_nothing(existing: list[bool], fail_at: int, step: str) -> None:
    """Whichever file's step fails (or none: fail_at past the end), the directory holds either
    every new text or exactly what it held before, and no temporary file."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = [f"f{i}.txt" for i in range(len(existing))]
        before = {n: f"old {n}" for n, e in zip(names, existing, strict=True) if e}
        for name, text in before.items():
            (root / name).write_text(text)
        calls = {"replace": 0, "backup": 0}
        real_replace, real_copy = os.replace, shutil.copy2

        def replace(src: str, dst: str | Path) -> None:
            if not str(src).endswith(".old"):  # moving a new file into place
                calls["replace"] += 1
                if step == "replace" and calls["replace"] == fail_at + 1:
                    raise OSError(errno.EIO, "Input/output error", src)
            real_replace(src, dst)

        def copy2(src: str | Path, dst: str | Path) -> object:
            calls["backup"] += 1
            if step == "backup" and calls["backup"] == fail_at + 1:
                raise OSError(errno.ENOSPC, "No space left on device", src)
            return real_copy(src, dst)

        failing = (step == "replace" and fail_at < len(names)) or (
            step == "backup" and len(names) > 1 and fail_at < sum(existing)
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(os, "replace", replace)
            patch.setattr(shutil, "copy2", copy2)
            if failing:
                with pytest.raises(OSError):
                    write_files({root / n: f"new {n}" for n in names})
            else:
                write_files({root / n: f"new {n}" for n in names})
        after = {p.name: p.read_text() for p in root.iterdir()}
        assert after == (before if failing else {n: f"new {n}" for n in names})
