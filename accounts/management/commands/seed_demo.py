"""Create (or refresh) the demo account and print its log-in."""

import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.demo import demo_account_seed


class Command(BaseCommand):
    help = "Create demo@tradecrew.local with DEMO_PASSWORD (or a generated password) and print it."

    def handle(self, *args, **options):
        password = settings.DEMO_PASSWORD or secrets.token_urlsafe(12)
        user, created = demo_account_seed(password=password)
        port = os.environ.get("PORT", "8000")
        line = "=" * 64
        self.stdout.write(
            f"\n{line}\n{'Created' if created else 'Refreshed'} the demo account\n"
            f"  log in at  http://127.0.0.1:{port}/\n"
            f"  e-mail     {user.email}\n"
            f"  password   {password}\n{line}\n"
        )
