"""Tests that need a system package skip (naming it) on a fresh machine, and fail in CI, which installs it."""

from __future__ import annotations

import pytest

import tests.conftest as conftest


def test_missing_package_skips_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match=r"needs a CJK font: apt-get install fonts-noto-cjk"):
        conftest.needs_system(False, "a CJK font", "fonts-noto-cjk")
    conftest.needs_system(True, "a CJK font", "fonts-noto-cjk")  # present: nothing happens


def test_missing_package_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install chromium .*CI must run this test"):
        conftest.needs_system(False, "chromium", "chromium")
