"""One "today for this user": the date in the profile's zone, whatever zone the process has."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from accounts.middleware import user_timezone
from accounts.selectors import DEFAULT_USER_ZONE, user_today, user_zone
from accounts.tests.factories import UserFactory

# 20:00 UTC on March 1st: already March 2nd in Tokyo, still March 1st in New York.
EVENING_UTC = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_it_dates_today_in_the_profiles_zone_not_the_active_one():
    tokyo = UserFactory(email="tokyo@example.com", timezone="Asia/Tokyo")
    new_york = UserFactory(email="ny@example.com", timezone="America/New_York")

    with timezone.override("UTC"):
        assert user_today(tokyo, at=EVENING_UTC) == date(2026, 3, 2)
        assert user_today(new_york, at=EVENING_UTC) == date(2026, 3, 1)
    with timezone.override("Asia/Tokyo"):
        assert user_today(new_york, at=EVENING_UTC) == date(2026, 3, 1)


@pytest.mark.django_db
def test_it_falls_back_to_the_profiles_default_zone_for_a_name_it_does_not_know():
    stranger = UserFactory(email="mars@example.com", timezone="Mars/Olympus")

    assert str(DEFAULT_USER_ZONE) == "America/New_York"
    assert user_zone(stranger) == DEFAULT_USER_ZONE
    assert user_today(stranger, at=EVENING_UTC) == date(2026, 3, 1)


@pytest.mark.django_db
def test_it_gives_pages_the_same_zone_as_today():
    stranger = UserFactory(email="mars@example.com", timezone="Mars/Olympus")
    tokyo = UserFactory(email="tokyo@example.com", timezone="Asia/Tokyo")

    assert user_timezone(stranger) == user_zone(stranger)
    assert user_timezone(tokyo) == user_zone(tokyo)
