"""Every model registered in the Django admin has a changelist an operator can open (and search,
where the admin offers search): a broken list_display or search field shows up here, not in
production."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    return client


@pytest.mark.parametrize(
    "model_admin",
    list(admin.site._registry.values()),
    ids=lambda model_admin: model_admin.model._meta.label,
)
def test_it_opens_every_admin_changelist(staff_client, model_admin):
    meta = model_admin.model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")

    assert staff_client.get(url).status_code == 200
    if model_admin.search_fields:
        assert staff_client.get(url, {"q": "x"}).status_code == 200
