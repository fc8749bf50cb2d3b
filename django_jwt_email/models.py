"""Persistence: issued tokens, the denylist and the audit log. Never a whole token.

Rows hold a token's ``jti`` and facts about it, never the token itself, so a
database dump cannot be replayed. Indexes follow the queries in ``services``
and the admin: by ``jti``, by user, by ``sid``, by expiry, events by time.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TokenKind(models.TextChoices):
    LOGIN = "login", _("login link")
    REFRESH = "refresh", _("refresh")


class IssuedTokenQuerySet(models.QuerySet["IssuedToken"]):
    def active(self) -> IssuedTokenQuerySet:
        return self.filter(used_at=None, revoked_at=None, expires_at__gt=timezone.now())

    def expired(self) -> IssuedTokenQuerySet:
        return self.filter(expires_at__lte=timezone.now())


class IssuedToken(models.Model):
    """A login link or refresh token that was minted (by ``jti``)."""

    jti = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=TokenKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jwt_email_tokens",
        # The (user, kind, -issued_at) index below serves every lookup by user;
        # a second index would only slow every insert and every cleanup.
        db_index=False,
    )
    sid = models.CharField(_("session id"), max_length=64, blank=True)
    # Keyed hash of the address the link was mailed to (binds the link to it).
    email_hash = models.CharField(max_length=64, blank=True)
    # Sign-up links only: the address to create the account for on redemption.
    signup_email = models.EmailField(max_length=254, blank=True)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    next_url = models.CharField(_("next"), max_length=2000, blank=True)
    # The short code of the same email, as a keyed hash, and its failed attempts.
    code_hash = models.CharField(max_length=64, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    # Hash of the browser-binding cookie's verifier (BIND_TO_BROWSER).
    browser_hash = models.CharField(max_length=64, blank=True)

    objects = IssuedTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("issued token")
        ordering = ["-issued_at"]
        indexes = [
            models.Index(fields=["user", "kind", "-issued_at"], name="jwt_email_issued_user"),
            models.Index(fields=["sid"], name="jwt_email_issued_sid"),
            models.Index(fields=["expires_at"], name="jwt_email_issued_expires"),
            models.Index(fields=["issued_at"], name="jwt_email_issued_at"),
            models.Index(
                fields=["email_hash", "kind"],
                name="jwt_email_issued_code",
                condition=Q(kind="login", used_at=None, revoked_at=None),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.jti[:8]}…"

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.used_at:
            return "used"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"


class RevokedKind(models.TextChoices):
    """What a denylist entry revokes: one token, or a whole session (``sid``)."""

    LOGIN = "login", _("login link")
    REFRESH = "refresh", _("refresh")
    ACCESS = "access", _("access")
    SESSION = "session", _("session (sid)")


class RevokedToken(models.Model):
    """The denylist: a revoked token (or, with kind "session", a whole ``sid``)."""

    Kind = RevokedKind

    jti = models.CharField(_("jti or sid"), max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=RevokedKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(max_length=64, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(default=timezone.now)
    # When the revoked token would have expired anyway: the entry can go then.
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("revoked token")
        ordering = ["-revoked_at"]
        indexes = [
            models.Index(fields=["expires_at"], name="jwt_email_revoked_expires"),
            models.Index(fields=["revoked_at"], name="jwt_email_revoked_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.jti[:8]}…"


class TokenEventQuerySet(models.QuerySet["TokenEvent"]):
    """The admin's activity page: aggregates computed by the database, never in Python."""

    def per_day(self, events: list[str]) -> models.QuerySet[Any, Any]:
        """``{"day", "event", "count"}`` for each local day and event: one grouped query."""
        return (
            self.filter(event__in=events)
            .annotate(day=TruncDate("created_at"))
            .values("day", "event")
            .annotate(count=Count("id"))
            .order_by("day", "event")
        )

    def top(self, field: str, limit: int = 10) -> models.QuerySet[TokenEvent, dict[str, object]]:
        """The ``limit`` most frequent values of ``field``: ``{field, "count"}``, most first."""
        return self.values(field).annotate(count=Count("id")).order_by("-count", field)[:limit]


class EventType(models.TextChoices):
    """The audit events, in the one vocabulary of the flows."""

    ISSUED = "issued", _("issued")
    EMAIL_SENT = "email_sent", _("email sent")
    EMAIL_FAILED = "email_failed", _("email failed")
    # The delivery could not even be queued (broker down): no user is known yet.
    DELIVERY_FAILED = "delivery_failed", _("delivery failed")
    VERIFIED = "verified", _("verified")
    REJECTED = "rejected", _("rejected")
    REFRESHED = "refreshed", _("refreshed")
    REFRESH_REUSE = "refresh_reuse", _("refresh reuse")
    REVOKED = "revoked", _("revoked")
    RATE_LIMITED = "rate_limited", _("rate limited")
    CODE_ATTEMPTS_EXCEEDED = "code_attempts_exceeded", _("code attempts exceeded")


class TokenEvent(models.Model):
    """The audit log. Append-only; holds a ``jti``, never a token."""

    Event = EventType

    event = models.CharField(max_length=32, choices=EventType.choices)
    reason = models.CharField(max_length=64, blank=True)
    jti = models.CharField(max_length=64, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    # Keyed hash of an address, for events of a request no user is known for yet
    # (delivery_failed): the admin's search finds them by the address typed.
    email_hash = models.CharField(max_length=64, blank=True)
    # How many occurrences this row stands for: 1, except for rows that summarise
    # events counted rather than written one by one (refusals beyond a rate).
    count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TokenEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("token event")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="jwt_email_event_at"),
            models.Index(fields=["event", "created_at"], name="jwt_email_event_kind"),
            models.Index(fields=["jti"], name="jwt_email_event_jti"),
            models.Index(fields=["ip"], name="jwt_email_event_ip"),
            # The admin's "by reason" filter, newest first.
            models.Index(fields=["reason", "created_at"], name="jwt_email_event_reason"),
            models.Index(
                fields=["email_hash"],
                name="jwt_email_event_email",
                condition=~Q(email_hash=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.created_at:%Y-%m-%d %H:%M:%S}"
