"""``jwt_email_revoke --user EMAIL | --jti JTI``: revoke from the shell."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_jwt_email import services
from django_jwt_email.models import IssuedToken


class Command(BaseCommand):
    help = "Revoke every token of a user (sign out everywhere), or one token by jti."

    def add_arguments(self, parser: ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--user", metavar="EMAIL", help="Revoke every token of this user.")
        group.add_argument("--jti", help="Revoke this token (a refresh token: its session).")
        parser.add_argument("--reason", default="revoked_by_command")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = options["reason"]
        if options["user"]:
            user = services.find_user(options["user"])
            if user is None:
                raise CommandError(f"No user with email {options['user']!r}.")
            services.logout_all(user, reason=reason)
            self.stdout.write(f"Revoked every token of user {user.pk}.")
            return
        rows = IssuedToken.objects.filter(jti=options["jti"]).select_related("user")
        if not rows:
            raise CommandError(f"No issued token with jti {options['jti']!r}.")
        count = services.revoke_issued(rows, reason=reason)
        self.stdout.write(f"Revoked {count} token(s).")
