from __future__ import annotations

from pathlib import Path

import pytest

from tests.replay.replay_fixtures import build_bin


@pytest.fixture(scope="session")
def bin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bin(tmp_path_factory.mktemp("replay-bin"))
