"""Golden files cannot pass by accident: a rewrite fails, CI refuses it, a missing one fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall.testing import golden


def test_a_matching_golden_passes(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("same\n", encoding="utf-8")
    golden.check(path, "same\n", environ={})


def test_a_different_output_fails(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("before\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="differs"):
        golden.check(path, "after\n", environ={})


@pytest.mark.parametrize("environ", [{}, {"CI": "true"}])
def test_a_missing_golden_fails_and_is_not_written(tmp_path: Path, environ: dict[str, str]
                                                   ) -> None:
    path = tmp_path / "out.txt"
    with pytest.raises(AssertionError, match="missing"):
        golden.check(path, "anything\n", environ=environ)
    assert not path.exists()


def test_a_rewrite_writes_the_file_and_fails_that_run(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="rewritten"):
        golden.check(path, "new\n", environ={"UPDATE_GOLDEN": "1"})
    assert path.read_text(encoding="utf-8") == "new\n"
    golden.check(path, "new\n", environ={})


def test_a_rewrite_is_refused_under_ci(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="refused under CI"):
        golden.check(path, "new\n", environ={"UPDATE_GOLDEN": "1", "CI": "true"})
    assert path.read_text(encoding="utf-8") == "old\n"
