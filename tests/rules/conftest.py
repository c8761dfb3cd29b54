from __future__ import annotations

import pytest

from app.rules import RuleBook, load_rulebook


@pytest.fixture(scope="session")
def book() -> RuleBook:
    """The shipped rules, loaded once as the service does."""
    return load_rulebook()
