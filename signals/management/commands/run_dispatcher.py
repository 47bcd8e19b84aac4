"""Run the trigger dispatcher: signals from the bus → matching pipelines → executions."""

from django.core.management.base import BaseCommand

from signals.dispatcher import dispatcher_run
from signals.management.commands._process import stop_on_signals


class Command(BaseCommand):
    help = "Consume the signal bus and start the pipelines each signal matches (Ctrl-C stops)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--consumer", help="Consumer name in the group (default: <hostname>-<pid>)."
        )

    def handle(self, *args, **options):
        dispatcher_run(stop=stop_on_signals(), consumer=options["consumer"])
        self.stdout.write("dispatcher stopped")
