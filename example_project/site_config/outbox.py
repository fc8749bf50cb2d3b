"""Read the emails written by Django's file-based email backend, for /outbox/.

The backend appends each message to a ``.log`` file followed by a line of 79
dashes; this module splits those files and parses each message with the
standard ``email`` package. Development only: nothing here is meant to scale.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

SEPARATOR = b"\n" + b"-" * 79 + b"\n"


@dataclass(frozen=True)
class OutboxMessage:
    to: str
    subject: str
    sent_at: datetime | None
    body: str


def read_outbox(directory: str | Path, limit: int = 50) -> list[OutboxMessage]:
    """The last ``limit`` messages in ``directory``, newest first."""
    found: list[tuple[float, float, int, OutboxMessage]] = []
    for path in Path(directory).glob("*.log"):
        try:
            data, mtime = path.read_bytes(), path.stat().st_mtime
        except OSError:  # removed meanwhile
            continue
        for index, chunk in enumerate(data.split(SEPARATOR)):
            if chunk.strip():
                message = parse(chunk)
                when = message.sent_at.timestamp() if message.sent_at else mtime
                # The Date header counts whole seconds: the file's mtime breaks ties.
                found.append((when, mtime, index, message))
    found.sort(key=lambda item: item[:3], reverse=True)
    return [item[3] for item in found[:limit]]


def parse(raw: bytes) -> OutboxMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    date = getattr(message["Date"], "datetime", None)
    body = message.get_body(preferencelist=("plain", "html"))
    return OutboxMessage(
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        sent_at=date.astimezone(timezone.utc) if date is not None else None,
        body=body.get_content() if isinstance(body, EmailMessage) else "",
    )
