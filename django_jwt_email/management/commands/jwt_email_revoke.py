"""``jwt_email_revoke --user EMAIL | --jti JTI``: revoke from the shell."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_jwt_email import services
from django_jwt_email.adapter import get_adapter
from django_jwt_email.models import IssuedToken, SignInSession


class Command(BaseCommand):
    help = (
        "Revoke every token and session of a user (sign out everywhere), or one login link "
        "by its jti, or one sign-in session by its sid (as the audit log shows them)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--user", metavar="EMAIL", help="Revoke every token of this user.")
        group.add_argument("--jti", help="Revoke this login link (a jti) or this session (a sid).")
        parser.add_argument("--reason", default="revoked_by_command")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = options["reason"][:64]
        if options["user"]:
            self.revoke_user(options["user"], reason)
        else:
            self.revoke_jti(options["jti"], reason)

    def revoke_user(self, email: str, reason: str) -> None:
        user = get_adapter().find_user(email)
        if user is None:
            raise CommandError(f"No user with email {email!r}.")
        services.logout_all(user, reason=reason)
        self.stdout.write(f"Revoked every token of user {user.pk}.")

    def revoke_jti(self, jti: str, reason: str) -> None:
        rows = list(IssuedToken.objects.filter(jti=jti).select_related("user"))
        if rows:
            count = services.revoke_issued(rows, reason=reason)
            self.stdout.write(f"Revoked {count} token(s).")
            return
        # The audit log names sessions by sid (their tokens are not stored).
        if not SignInSession.objects.filter(sid=jti).exists():
            raise CommandError(f"No login link (jti) or session (sid) {jti!r}.")
        services.revoke_session(jti, reason=reason)
        self.stdout.write(f"Revoked session {jti}.")
