"""Registers the `wheel` marker, so the slow packaging test can be left out with -m 'not wheel'."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "wheel: builds the wheel and installs it into a fresh venv (needs PyPI)"
    )
