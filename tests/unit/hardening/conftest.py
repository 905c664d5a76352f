"""The tally of the hostile-file corpus, printed at the end of the run as the figures the hardening issue asks for."""

from __future__ import annotations

from collections import Counter

import pytest

HOSTILE_TALLY = pytest.StashKey[Counter]()


@pytest.fixture()
def hostile_tally(request: pytest.FixtureRequest) -> Counter:
    """Counts files, tries (file x loader), tries that ran code and tries that ended in a clear error."""
    return request.config.stash.setdefault(HOSTILE_TALLY, Counter())


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    tally = config.stash.get(HOSTILE_TALLY, Counter())
    if tally["tries"]:
        terminalreporter.write_sep("-", "hostile files")
        terminalreporter.write_line(
            f"{tally['files']} hostile files, {tally['tries']} loads tried (file x loader), "
            f"{tally['executed']} executed code, {tally['clear']} clear errors"
        )
