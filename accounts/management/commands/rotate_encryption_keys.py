"""Re-encrypt stored secrets under the newest FIELD_ENCRYPTION_KEYS key."""

from django.core.management.base import BaseCommand

from accounts.services import broker_secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every broker secret with the first key of FIELD_ENCRYPTION_KEYS. Put the new "
        "key first, keep the old one after it, run this, then remove the old key."
    )

    def handle(self, *args, **options):
        count = broker_secrets_rotate()
        self.stdout.write(f"Re-encrypted {count} broker connection(s) under the newest key.")
