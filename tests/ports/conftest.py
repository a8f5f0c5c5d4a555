"""Fixtures for the ports: nnlab finds the port modules in tests/ports/modules/, as a user's experiments/."""

import pytest

from tests.ports.harness import MODULES


@pytest.fixture(scope="module")
def ports(tmp_path_factory):
    """NNLAB_EXPERIMENTS points at tests/ports/modules/ for the test module; yields a results directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNLAB_EXPERIMENTS", str(MODULES))
        yield tmp_path_factory.mktemp("results")
