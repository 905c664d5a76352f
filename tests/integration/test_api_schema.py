"""The REST API against its own OpenAPI schema, with schemathesis driving a real `webui.py`.

Every operation of `/api/v2/openapi.json` gets generated requests, valid ones and invalid ones (a bounded number
of each, to keep the run short); no answer may be a server error and every answer must conform to the schema: a
documented status code, the documented content type, a body that fits the documented schema. No operation is
skipped: the ones that would start long jobs or delete things only ever get made-up ids, names and paths, which
they refuse with a 4xx.

The operations are driven from one test (schemathesis' pytest fixture loader does not work with pytest 9), so a
run reports every operation that failed, not only the first.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup

from tests.factories import tiny_pth
from tests.integration.live_server import TOKEN, live_webui

pytestmark = pytest.mark.slow

EXAMPLES = 15  # per operation and generation mode (valid, invalid)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, rvc_home: Path) -> Iterator[schemathesis.BaseSchema]:
    home = tmp_path_factory.mktemp("schema_home")
    (home / "assets" / "weights").mkdir(parents=True)
    (home / "uploads").mkdir()
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), home / "assets" / "weights" / "tiny.pth")
    env = dict(os.environ, RVC_HOME=str(home), RVC_EMBEDDER=str(rvc_home / "embedder"), OMP_NUM_THREADS="1")
    with live_webui(env) as url:
        yield schemathesis.openapi.from_url(f"{url}api/v2/openapi.json", headers=AUTH)


def exercise(operation: schemathesis.APIOperation, mode: GenerationMode, calls: Counter) -> None:
    """Up to `EXAMPLES` generated requests of one kind; the first that fails a check raises."""

    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        calls[operation.label] += 1
        case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=30)

    run()


def test_every_operation_answers_as_documented(api_schema: schemathesis.BaseSchema):
    calls: Counter = Counter()
    failures = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                exercise(operation, mode, calls)
            except (FailureGroup, Failure) as error:  # schemathesis' check failures, with the request that caused them
                failures[f"{operation.label} ({mode.value})"] = str(error)[:2000]
    print(f"\nschemathesis: {len(calls)} operations, {sum(calls.values())} examples, {len(failures)} failing")
    assert len(calls) >= 40  # the whole API was seen
    assert failures == {}, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
