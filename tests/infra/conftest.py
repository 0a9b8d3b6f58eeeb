"""Synthesize the app once per session (a synth takes seconds): every test reads the result."""

import pytest
from infra_synth import ALT_CONTEXT, Synth, synthesize

from infra import constants as c


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Default context: DocumentDB, shared-secret tokens, HTTP ALB, bootstrap custom resource."""
    return synthesize(tmp_path_factory.mktemp("synth-default"))


@pytest.fixture(scope="session")
def synth_alt(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Every optional branch: OIDC, topic prefix, HTTPS, own MongoDB, given brokers, region."""
    return synthesize(tmp_path_factory.mktemp("synth-alt"), ALT_CONTEXT)


@pytest.fixture(scope="session")
def synth_profiler(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The DocumentDB profiler opted in for a debugging window (`-c docdbProfiler=true`)."""
    return synthesize(tmp_path_factory.mktemp("synth-profiler"), {c.CTX_DOCDB_PROFILER: "true"})
