"""Write the code-defined beat schedule (config/core/beat.py) into django-celery-beat's tables."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.core.beat import BEAT_SCHEDULE

PREFIX = "tradecrew: "


class Command(BaseCommand):
    help = "Create, update and remove the system's periodic tasks to match config/core/beat.py."

    @transaction.atomic
    def handle(self, *args, **options):
        wanted = set()
        for label, (task, seconds) in BEAT_SCHEDULE.items():
            name = PREFIX + label
            wanted.add(name)
            every, _ = IntervalSchedule.objects.get_or_create(
                every=int(seconds), period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": every, "enabled": True}
            )
        removed, _ = (
            PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(name__in=wanted).delete()
        )
        self.stdout.write(
            f"beat schedule: {len(wanted)} periodic tasks in place, {removed} removed"
        )
