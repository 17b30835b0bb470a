"""A bounded schemathesis run against /api: no generated request may get a 5xx.

schemathesis' pytest plugin does not load under pytest 9 (it reads the removed
``Function._nodeid``), so this drives its per-operation hypothesis strategies directly.
"""


import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from api.settings import Settings
from tests.conftest import copy_sample

EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def fuzz_schema(sample_store, tmp_path_factory):
    path = copy_sample(sample_store, tmp_path_factory.mktemp("fuzz"))
    app = create_app(Settings(store=str(path), edit_tokens="fuzz:f", upload_limit_mb=1))
    return schemathesis.openapi.from_asgi("/api", app)


def test_no_operation_answers_5xx(fuzz_schema):
    failures = []
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(headers={"Authorization": "Bearer f"})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}: "
                                f"{response.text[:200]}")

        run()
    assert not failures, "\n".join(failures[:20])
