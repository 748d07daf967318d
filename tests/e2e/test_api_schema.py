"""Schemathesis over the API's OpenAPI schema, as a client and as staff, with valid and with
invalid data: whatever arrives, the answer is never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.e2e.api_support import API, World, build_world
from tests.e2e.conftest import TEST_HOST

SCHEMATHESIS_HOST = "testserver"
"""The host schemathesis calls an ASGI app as."""
EXAMPLES_PER_OPERATION = 5


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(
        tmp_path_factory.mktemp("api-schema"), allowed_hosts=f"{TEST_HOST},{SCHEMATHESIS_HOST}"
    )


@pytest.fixture(scope="module")
def api_schema(world: World) -> OpenApiSchema:
    schema = schemathesis.openapi.from_asgi(f"{API}/schema/openapi.json", world.app)
    return schema.include(path_regex=f"^{API}/(?!schema)")


def test_every_api_operation_is_in_the_schema_with_a_summary(api_schema: OpenApiSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30
    assert [op.label for op in operations if not op.definition.raw.get("summary")] == []


@pytest.mark.parametrize("mode", list(GenerationMode))
@pytest.mark.parametrize("who", ["client", "staff"])
def test_no_request_gets_a_server_error(
    api_schema: OpenApiSchema, world: World, who: str, mode: GenerationMode
) -> None:
    person = world.acme.client_admin if who == "client" else world.staff
    headers = world.bearer(person)
    strategies = [
        result.ok().as_strategy(generation_mode=mode) for result in api_schema.get_all_operations()
    ]
    operations = len(strategies)

    @given(st.data())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION * operations,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(data: st.DataObject) -> None:
        strategy = strategies[data.draw(st.integers(0, operations - 1), label="operation")]
        case: Case = data.draw(strategy, label="case")
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])

    check()
