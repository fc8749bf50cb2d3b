"""An email backend that takes 50 ms per message, like a remote SMTP server."""

import time
from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend

DELAY_SECONDS = 0.050


class SlowEmailBackend(BaseEmailBackend):
    """Sends nothing; sleeps 50 ms per message, the cost that must not leak timing."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        for message in email_messages:
            message.message()  # render the MIME message, as a real backend would
            time.sleep(DELAY_SECONDS)
        return len(email_messages)
