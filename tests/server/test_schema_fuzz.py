"""A bounded schemathesis run over /openapi.json (issue 9, item 9): whatever the schema
allows a client to send, the server answers without a 5xx.

About 15 examples per operation (a few hundred in all, seconds on the CI machine); each
example runs as a fresh guest, so an example that deletes or logs out its user does
not disarm the ones after it. SQLite only: the PostgreSQL limits are covered by the
hand-written cases in test_leaks.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.server.conftest import ServerThread

EXAMPLES_PER_OPERATION = 15


@pytest.fixture(scope="module")
def fuzzed_server(sqlite_server: ServerThread) -> Iterator[ServerThread]:
    yield sqlite_server


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: ServerThread):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
def test_no_input_the_schema_allows_is_a_server_error(case, fuzzed_server: ServerThread) -> None:  # type: ignore[no-untyped-def]
    guest = requests.post(f"{fuzzed_server.url}/auth/guest", timeout=30).json()
    headers = {"Authorization": f"Bearer {guest['access_token']}"}
    response = case.call(base_url=fuzzed_server.url, headers=headers, timeout=30)
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:300])
    case.validate_response(response, checks=[not_a_server_error])
