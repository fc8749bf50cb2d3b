"""``jwt_email_revoke --user EMAIL | --jti JTI``: revoke from the shell."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_jwt_email import services
from django_jwt_email.models import IssuedToken


class Command(BaseCommand):
    help = (
        "Revoke every token of a user (sign out everywhere), or one token by jti: a login "
        "link, or a refresh token or session id (sid) with its whole session."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--user", metavar="EMAIL", help="Revoke every token of this user.")
        group.add_argument(
            "--jti", help="Revoke this token (a refresh token or a sid: its session)."
        )
        parser.add_argument("--reason", default="revoked_by_command")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = options["reason"][:64]
        if options["user"]:
            self.revoke_user(options["user"], reason)
        else:
            self.revoke_jti(options["jti"], reason)

    def revoke_user(self, email: str, reason: str) -> None:
        user = services.find_user(email)
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
        # The audit log names sessions by sid (their access tokens are not stored).
        session = (
            IssuedToken.objects.filter(sid=jti).exclude(sid="").select_related("user").first()
        )
        if session is None:
            raise CommandError(f"No issued token or session with jti {jti!r}.")
        services.revoke_session(jti, user=session.user, reason=reason)
        self.stdout.write(f"Revoked session {jti}.")
