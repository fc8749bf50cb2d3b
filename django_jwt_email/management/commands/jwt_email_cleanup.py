"""``jwt_email_cleanup [--batch-size N] [--dry-run]``: prune what no check needs any more.

Deletes expired issued tokens (after a grace period, see
``services.cleanup_targets``), denylist entries past their expiry and audit
events older than ``JWT_EMAIL_AUDIT_RETENTION``, in batches so that no long lock
is held on a busy table. Run it from cron or Celery beat, e.g. hourly.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_jwt_email import services


class Command(BaseCommand):
    help = (
        "Delete expired issued tokens, expired denylist entries and audit events older "
        "than JWT_EMAIL_AUDIT_RETENTION, in batches."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=20000,
            help="Rows deleted per transaction (default 20000).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        targets = services.cleanup_targets()
        if options["dry_run"]:
            counts = {label: queryset.count() for label, queryset in targets.items()}
            self.stdout.write(f"Dry run: would delete {_summary(counts)}.")
            return
        counts = {}
        for label, queryset in targets.items():
            counts[label] = 0
            for deleted in services.delete_in_batches(queryset, batch_size):
                counts[label] += deleted
                if options["verbosity"] >= 1:
                    self.stdout.write(f"{label}: deleted {deleted} ({counts[label]} so far)")
        self.stdout.write(self.style.SUCCESS(f"Deleted {_summary(counts)}."))


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {label}" for label, count in counts.items())
