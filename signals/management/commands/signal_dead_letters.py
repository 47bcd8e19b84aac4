"""List the signals the dispatcher gave up on (the dead-letter stream), newest first."""

from django.core.management.base import BaseCommand

from signals.bus import RedisStreamBus


class Command(BaseCommand):
    help = "Show dead-lettered signals: when, why, after how many attempts, and the signal."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=20, help="How many (default 20).")

    def handle(self, *args, **options):
        bus = RedisStreamBus()
        letters = bus.dead_letters(count=options["count"])
        self.stdout.write(f"{bus.dead_letter_count()} dead-lettered signals in {bus.dead_stream}")
        for letter in letters:
            self.stdout.write(
                f"{letter.get('message_id')}  {letter.get('reason')} after "
                f"{letter.get('attempts')} attempt(s): {letter.get('error')}\n"
                f"    owner={letter.get('owner') or '-'} signal={letter.get('signal', '')[:500]}"
            )
