"""The cache's rules as pure functions (``tlsproxy.cache_rules``): one table each."""

from __future__ import annotations

import pytest
from tlsproxy.cache_rules import (
    CookieRule,
    Policy,
    cache_control,
    http_date,
    initial_age,
    not_modified,
    response_policy,
    vary_key,
    vary_names,
)
from tlsproxy.fields import Fields

DATE = "Mon, 30 Nov 2026 04:00:00 GMT"
MINUTE_LATER = "Mon, 30 Nov 2026 04:01:00 GMT"
AT_DATE = 1796011200.0

DIRECTIVES = [
    (["max-age=60"], {"max-age": "60"}),
    (["Public, MAX-AGE=60"], {"public": None, "max-age": "60"}),
    (['private="Set-Cookie, X-Id", max-age=5'], {"private": "Set-Cookie, X-Id", "max-age": "5"}),
    (["max-age=60", "max-age=5"], {"max-age": "5"}),  # twice: the safe (smaller) one
    (["max-age=5, max-age=60"], {"max-age": "5"}),
    (['no-cache="a\\"b", ,,'], {"no-cache": 'a"b'}),
    ([""], {}),
]


@pytest.mark.parametrize(("values", "expected"), DIRECTIVES)
def test_cache_control_directives(values: list[str], expected: dict[str, str | None]) -> None:
    assert cache_control(values) == expected


def fields(**values: str) -> Fields:
    return Fields.of((name.replace("_", "-"), value) for name, value in values.items())


# (status, response fields, default_ttl, Policy or the reason it is not stored)
POLICIES = [
    (200, fields(cache_control="max-age=60"), 0, Policy(60)),
    (200, fields(cache_control="s-maxage=10, max-age=60"), 0, Policy(10)),
    (200, fields(cache_control="max-age=99999999999"), 0, Policy(2**31)),
    (200, fields(cache_control="max-age=-1"), 0, "stale at once, without a validator"),
    (200, fields(cache_control="max-age=-1", etag='"a"'), 0, Policy(0)),
    (200, fields(expires=MINUTE_LATER, date=DATE), 0, Policy(60)),
    (200, fields(expires=DATE, date=MINUTE_LATER), 0, "stale at once, without a validator"),
    (200, fields(cache_control="max-age=60", expires=DATE, date=MINUTE_LATER), 0, Policy(60)),
    (200, fields(cache_control="public", etag='"a"'), 0, Policy(0)),
    (200, fields(etag='"a"'), 0, "no explicit lifetime"),
    (200, fields(etag='"a"'), 5, Policy(5)),
    (200, fields(last_modified=DATE), 5, Policy(5)),
    (200, fields(), 5, "no explicit lifetime"),  # a default needs a validator
    (200, fields(cache_control="no-cache", etag='"a"'), 5,
     Policy(5, always_revalidate=True, never_stale=True)),
    (200, fields(cache_control="public, no-cache"), 0, "stale at once, without a validator"),
    (200, fields(cache_control="max-age=1, stale-while-revalidate=9, stale-if-error=99"), 0,
     Policy(1, 9, 99)),
    (200, fields(cache_control="max-age=1, must-revalidate, stale-if-error=99"), 0,
     Policy(1, never_stale=True)),
    (200, fields(cache_control="max-age=1, proxy-revalidate, stale-while-revalidate=9"), 0,
     Policy(1, never_stale=True)),
    (200, fields(cache_control="max-age=0, stale-while-revalidate=9"), 0, Policy(0, 9)),
    (200, fields(cache_control="max-age=60, private"), 0, "private"),
    (200, fields(cache_control="max-age=60, no-store"), 0, "no-store"),
    (200, fields(cache_control="max-age=60", set_cookie="a=b"), 0, "set-cookie"),
    (200, fields(cache_control="max-age=60", vary="Accept, *"), 0, "vary *"),
    (404, fields(cache_control="max-age=60"), 0, Policy(60)),
    (301, fields(cache_control="max-age=60"), 0, Policy(60)),
    (206, fields(cache_control="max-age=60"), 0, "status 206"),
    (302, fields(cache_control="max-age=60"), 0, "status 302"),
    (500, fields(cache_control="max-age=60"), 0, "status 500"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "response", "default_ttl", "expected"), POLICIES)
def test_response_policy(
    status: int, response: Fields, default_ttl: float, expected: Policy | str
) -> None:
    assert response_policy(status, response, default_ttl) == expected


# (fields, request sent, response head arrived, wall clock now, expected age)
AGES = [
    (fields(), 100.0, 100.5, 0.0, 0.5),  # no Date: the time in flight
    (fields(age="30"), 100.0, 100.5, 0.0, 30.5),  # RFC 9111 4.2.3 corrected_age_value
    (fields(age="soon"), 100.0, 100.0, 0.0, 0.0),
    (fields(date=DATE), 100.0, 100.0, AT_DATE + 60, 60.0),  # apparent age: Date was 60 s ago
    (fields(date=DATE, age="90"), 100.0, 100.0, AT_DATE + 60, 90.0),  # the larger of the two
    (fields(date=MINUTE_LATER), 100.0, 100.0, AT_DATE, 0.0),  # a Date ahead of our clock
]


def test_http_date_formats() -> None:
    assert http_date(DATE) == AT_DATE
    assert http_date("Monday, 30-Nov-26 04:00:00 GMT") == AT_DATE  # RFC 850
    assert http_date("Mon Nov 30 04:00:00 2026") == AT_DATE  # asctime
    assert http_date("0") is None and http_date(None) is None


@pytest.mark.parametrize(("response", "sent", "arrived", "now", "expected"), AGES)
def test_initial_age(
    response: Fields, sent: float, arrived: float, now: float, expected: float
) -> None:
    assert initial_age(response, sent, arrived, now) == expected


# (request fields, stored ETag, stored Last-Modified, 304?)
CONDITIONALS = [
    (fields(if_none_match='"a"'), '"a"', None, True),
    (fields(if_none_match='W/"a"'), '"a"', None, True),  # weak comparison (RFC 9110 8.8.3.2)
    (fields(if_none_match='"b", W/"a"'), 'W/"a"', None, True),
    (fields(if_none_match='"x,y"'), '"x,y"', None, True),  # a comma inside an entity-tag
    (fields(if_none_match='"b"'), '"a"', None, False),
    (fields(if_none_match="*"), None, None, True),
    (fields(if_none_match='"a"'), None, DATE, False),
    # If-None-Match decides alone when present (RFC 9110 13.2.2).
    (fields(if_none_match='"b"', if_modified_since=MINUTE_LATER), '"a"', DATE, False),
    (fields(if_modified_since=MINUTE_LATER), None, DATE, True),
    (fields(if_modified_since=DATE), None, DATE, True),
    (fields(if_modified_since=DATE), None, MINUTE_LATER, False),
    (fields(if_modified_since="yesterday"), None, DATE, False),
    (fields(), '"a"', DATE, False),
]


@pytest.mark.parametrize(("request_fields", "etag", "modified", "expected"), CONDITIONALS)
def test_not_modified(
    request_fields: Fields, etag: str | None, modified: str | None, expected: bool
) -> None:
    assert not_modified(request_fields, etag, modified) is expected


def test_vary_keys_tell_absent_from_empty_and_ignore_spacing() -> None:
    names = vary_names(fields(vary="Accept-Language, accept-encoding", Vary="Accept-Language"))
    assert names == ("accept-encoding", "accept-language")
    key = vary_key(names, fields(accept_encoding="gzip,  br"))
    assert key == (("accept-encoding", "gzip,br"), ("accept-language", None))
    assert key != vary_key(names, fields(accept_encoding="gzip, br", accept_language=""))
    two_lines = Fields.of([("Accept-Encoding", "gzip"), ("Accept-Encoding", "br")])
    assert key == vary_key(names, two_lines)


# (configured names, Cookie field values, bypass?)
COOKIES = [
    (("__Host-blog_session",), ["a=1; __Host-blog_session=x"], True),
    (("__Host-blog_session",), ["__Host-blog_csrf=1"], False),
    (("__Host-blog_session",), ["x__Host-blog_session=1"], False),
    (("__Host-blog_session",), ["a=1", "__Host-blog_session=x"], True),
    (("*",), ["a=1"], True),
    (("*",), [], False),
    ((), ["__Host-blog_session=x"], False),
]


@pytest.mark.parametrize(("names", "values", "expected"), COOKIES)
def test_cookie_rule(names: tuple[str, ...], values: list[str], expected: bool) -> None:
    request = Fields.of(("Cookie", v) for v in values)
    assert CookieRule.of(names).matches(request) is expected
