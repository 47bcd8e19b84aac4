"""Run the signal generators, each on its own interval, publishing to the signal bus."""

from django.core.management.base import BaseCommand

from signals.generators.runner import generators_run
from signals.management.commands._process import stop_on_signals


class Command(BaseCommand):
    help = "Watch the market and publish signals to the bus (Ctrl-C stops)."

    def handle(self, *args, **options):
        generators_run(stop=stop_on_signals())
        self.stdout.write("generators stopped")
