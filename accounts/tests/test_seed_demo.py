"""`manage.py seed_demo`: the demo account, its printed log-in, and one pipeline per template."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_it_creates_the_demo_account_and_prints_a_working_password(client, settings):
    settings.DEMO_PASSWORD = None
    out = StringIO()
    call_command("seed_demo", stdout=out)
    password = next(line.split()[-1] for line in out.getvalue().splitlines() if "password" in line)
    user = User.objects.get(email="demo@tradecrew.local")
    assert user.check_password(password)
    assert (
        client.post("/accounts/login/", {"email": user.email, "password": password}).status_code
        == 302
    )
    assert sorted(user.pipelines.values_list("template_key", flat=True)) == [
        "day_trading_5m",
        "golden_cross_1d",
        "scanner_top5",
    ]


def test_running_it_again_keeps_one_account_and_uses_demo_password(settings):
    settings.DEMO_PASSWORD = "a-fixed-demo-password"
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    user = User.objects.get(email="demo@tradecrew.local")
    assert user.check_password("a-fixed-demo-password")
    assert user.pipelines.count() == 3
