"""Email backends for the tests: one that always fails like a dead SMTP server."""

from smtplib import SMTPException

from django.core.mail.backends.base import BaseEmailBackend


class FailingEmailBackend(BaseEmailBackend):
    """Refuses every message, as an unreachable or rejecting SMTP server would."""

    def send_messages(self, email_messages):
        raise SMTPException("450 mailbox unavailable (test backend)")
