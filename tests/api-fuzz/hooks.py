"""Schemathesis hooks of the API fuzz step (scripts/api-fuzz.sh, docs/openapi.md).

The allow-list: the only failures the fuzz step forgives. Each entry names the check it
applies to, the exact answer it forgives and why openapi.yaml cannot state the rule
that answer comes from. Anything else a check reports fails the step. Entries apply to
every operation, so a route added to openapi.yaml is fuzzed and judged without editing
this file. The run ends with a count of what each entry forgave.
"""

from __future__ import annotations

import atexit
import json
import sys
from collections import Counter
from typing import Callable, NamedTuple

import schemathesis

# Failure codes of schemathesis' checks (`st explain ST202`).
SCHEMA_VALID_REQUEST_REJECTED = "ST202"  # positive_data_acceptance
MISSING_REQUIRED_HEADER_ACCEPTED = "ST203"  # missing_required_header


def _json(response) -> object:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _easemob_error(response) -> str | None:
    body = _json(response)
    return body.get("error") if isinstance(body, dict) else None


def _headers(case) -> dict[str, str]:
    return {name.lower(): str(value).strip() for name, value in (case.headers or {}).items()}


def _required_header_sent_dashed(failure, case, response) -> bool:
    """`app_id` left out while its dashed twin `app-id` was sent (and honoured)."""
    return getattr(failure, "header_name", None) == "app_id" and bool(_headers(case).get("app-id"))


def _twin_headers_disagree(failure, case, response) -> bool:
    """400 for an underscored header and its dashed twin sent with different values."""
    body = _json(response)
    if response.status_code != 400 or not isinstance(body, dict):
        return False
    headers = _headers(case)
    for underscored in ("app_id", "user_id", "group_id"):
        dashed = underscored.replace("_", "-")
        if (
            body.get("message") == f"headers {underscored} and {dashed} name the same thing and must agree"
            and underscored in headers
            and dashed in headers
            and headers[underscored] != headers[dashed]
        ):
            return True
    return False


class Allowance(NamedTuple):
    reason: str
    check: str
    matches: Callable[[object, object, object], bool]


ALLOW_LIST = (
    Allowance(
        reason=(
            "Easemob's token route answers wrong credentials (unknown user, wrong password, "
            "locked or banned user) with 400 invalid_grant, as Easemob does; a schema states "
            "the form of a username and password, not which pairs exist"
        ),
        check=SCHEMA_VALID_REQUEST_REJECTED,
        matches=lambda failure, case, response: response.status_code == 400
        and _easemob_error(response) == "invalid_grant",
    ),
    Allowance(
        reason=(
            "Easemob's user registration answers a username that is already taken with 400 "
            "duplicate_unique_property_exists, as Easemob does; a schema states the form of a "
            "username, not which ones exist (the run registers a generated name more than once)"
        ),
        check=SCHEMA_VALID_REQUEST_REJECTED,
        matches=lambda failure, case, response: response.status_code == 400
        and _easemob_error(response) == "duplicate_unique_property_exists",
    ),
    Allowance(
        reason=(
            "user_id / user-id (and group_id / group-id, app_id / app-id) are one header in two "
            "spellings for proxies that drop underscores; both sent with different values is a 400, "
            "and OpenAPI cannot state that two parameters must be equal"
        ),
        check=SCHEMA_VALID_REQUEST_REJECTED,
        matches=_twin_headers_disagree,
    ),
    Allowance(
        reason=(
            "app_id is required in either spelling: a request that leaves out app_id but sends "
            "app-id is served (the same header for proxies that drop underscores); OpenAPI "
            "cannot say that one of two parameters is required"
        ),
        check=MISSING_REQUIRED_HEADER_ACCEPTED,
        matches=_required_header_sent_dashed,
    ),
)

forgiven: Counter[str] = Counter()


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keeps a failure unless an allow-list entry matches it exactly."""
    for entry in ALLOW_LIST:
        if failure.code == entry.check and entry.matches(failure, case, response):
            forgiven[entry.reason] += 1
            return False
    return True


@atexit.register
def _report() -> None:
    print("\napi-fuzz allow-list (forgiven failures):", file=sys.stderr)
    for entry in ALLOW_LIST:
        print(f"  {forgiven[entry.reason]:5d}  {entry.check}: {entry.reason}", file=sys.stderr)
