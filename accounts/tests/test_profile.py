"""The caller's profile at /api/v1/me and the settings page."""

from decimal import Decimal

import pytest

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def test_get_returns_my_profile_only(api, outsider_api, owner, outsider):
    assert api.get(ME).json()["email"] == owner.email
    assert outsider_api.get(ME).json()["email"] == outsider.email


def test_patch_changes_my_profile_and_not_anyone_elses(api, outsider_api, owner, outsider):
    response = outsider_api.patch(ME, {"full_name": "Changed", "budget_limit_daily": "5.50"})
    assert response.status_code == 200
    owner.refresh_from_db()
    outsider.refresh_from_db()
    assert owner.full_name == "Olivia Owner"
    assert outsider.full_name == "Changed"
    assert outsider.budget_limit_daily == Decimal("5.50")


def test_patch_with_a_bad_timezone_names_the_field(api, owner):
    response = api.patch(ME, {"timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "timezone"]
    owner.refresh_from_db()
    assert owner.timezone == "America/New_York"


def test_patch_with_a_negative_budget_names_the_field(api):
    response = api.patch(ME, {"budget_limit_daily": "-1"})
    assert response.status_code == 422
    assert "budget_limit_daily" in str(response.json()["detail"])


def test_daily_budget_cannot_exceed_monthly_and_nothing_is_saved(api, owner):
    response = api.patch(ME, {"budget_limit_daily": "50", "budget_limit_monthly": "10"})
    assert response.status_code == 422
    owner.refresh_from_db()
    assert owner.budget_limit_daily is None


def test_malformed_json_is_a_4xx(api):
    response = api.generic(
        "PATCH", ME, "{not json", content_type="application/json", headers=api._headers(None)
    )
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()


def test_settings_page_saves_profile(owner_client, owner):
    response = owner_client.post(
        "/accounts/settings/",
        {
            "form": "profile",
            "full_name": "Olivia O.",
            "timezone": "Europe/London",
            "budget_limit_daily": "3",
            "budget_limit_monthly": "60",
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.timezone == "Europe/London"
    assert owner.budget_limit_monthly == Decimal("60.00")
