"""The tooling the repository relies on is really in force (issue #13, item 9)."""

from __future__ import annotations

import pytest


def test_a_hung_test_fails_after_the_configured_timeout(request: pytest.FixtureRequest) -> None:
    # pytest-timeout is loaded and [tool.pytest.ini_options] gives every test a bound.
    assert request.config.pluginmanager.hasplugin("timeout")
    assert float(request.config.getini("timeout")) > 0
