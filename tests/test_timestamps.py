"""One spelling of time across the archive: ISO-8601 UTC to the second, `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from archiver.timestamps import iso, iso_utc, parse_date, parse_iso, utc_now


@pytest.mark.parametrize(
    "raw, want",
    [
        ("Tue, 10 Jun 2025 09:15:00 +0300", "2025-06-10T06:15:00Z"),
        ("2025-06-10T09:15:00+03:00", "2025-06-10T06:15:00Z"),
        ("2025-06-10", "2025-06-10T00:00:00Z"),
        ("2025-06-10T09:15:00Z", "2025-06-10T09:15:00Z"),
        ("2025-06-10t09:15:00z", "2025-06-10T09:15:00Z"),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(raw, want):
    assert parse_date(raw) == want


def test_iso_takes_any_zone_and_a_naive_time_as_utc():
    assert iso(datetime(2026, 1, 31, 12, 0, 0, 999, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-31T10:00:00Z"
    assert iso(datetime(2026, 1, 31, 12, 0, 0)) == "2026-01-31T12:00:00Z"
    assert iso_utc("2026-01-31") == "2026-01-31T00:00:00Z"
    assert parse_iso("2026-01-31T12:00:00Z") == datetime(2026, 1, 31, 12, tzinfo=UTC)
    with pytest.raises(ValueError):
        iso_utc("last week")


def test_utc_now_is_in_the_archive_form_and_sorts_as_text():
    now = utc_now()
    assert now.endswith("Z") and len(now) == len("2026-01-31T12:00:00Z")
    assert iso_utc(now) == now
    assert "2000-01-01T00:00:00Z" < now
