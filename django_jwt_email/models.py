"""Persistence: issued tokens, the denylist and the audit log. Never a whole token.

Rows hold a token's ``jti`` and facts about it, never the token itself, so a
database dump cannot be replayed. Indexes follow the queries in ``services``
and the admin: by ``jti``, by user, by ``sid``, by expiry, events by time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import app_settings

__all__ = [
    "STATES",
    "EventType",
    "IssuedToken",
    "RevokedKind",
    "RevokedToken",
    "SignInSession",
    "TokenEvent",
]


class IssuedTokenQuerySet(models.QuerySet["IssuedToken"]):
    """What makes a login link usable, said once: the service, the admin's status
    filter and ``IssuedToken.state`` all come from ``STATES`` below."""

    def redeemable(self, now: datetime | None = None) -> IssuedTokenQuerySet:
        """Links that could be redeemed now (not used, revoked, expired or locked)."""
        return self.filter(state_condition("active", now or timezone.now()))

    def in_state(self, state: str, now: datetime | None = None) -> IssuedTokenQuerySet:
        return self.filter(state_condition(state, now or timezone.now()))

    def expired(self) -> IssuedTokenQuerySet:
        return self.filter(expires_at__lte=timezone.now())


#: A link's states, in precedence order: the first that applies is its state.
STATES = ("revoked", "used", "expired", "locked", "active")


def state_condition(state: str, now: datetime) -> Q:
    """The SQL condition of one of ``STATES``, as ``IssuedToken.state`` decides it."""
    cap = app_settings.CODE_MAX_ATTEMPTS
    unspent = Q(revoked_at=None, used_at=None)
    return {
        "revoked": Q(revoked_at__isnull=False),
        "used": Q(revoked_at=None, used_at__isnull=False),
        "expired": unspent & Q(expires_at__lte=now),
        # Wrong codes typed CODE_MAX_ATTEMPTS times: spent, even before its revoke lands.
        "locked": unspent & Q(expires_at__gt=now, code_attempts__gte=cap),
        "active": unspent & Q(expires_at__gt=now, code_attempts__lt=cap),
    }[state]


class IssuedToken(models.Model):
    """A login link that was emailed (by ``jti``): single use, short-lived.

    Refresh tokens are not stored one row each: a sign-in session
    (``SignInSession``) stands for its whole family.
    """

    jti = models.CharField(_("jti"), max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jwt_email_tokens",
        # The (user, -issued_at) index below serves every lookup by user; a second
        # index would only slow every insert and every cleanup.
        db_index=False,
    )
    # Keyed hash of the address the link was mailed to (binds the link to it).
    email_hash = models.CharField(max_length=64, blank=True)
    # Sign-up links only: the address to create the account for on redemption.
    signup_email = models.EmailField(_("sign-up address"), max_length=254, blank=True)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoke_reason = models.CharField(_("revoke reason"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    next_url = models.CharField(_("next"), max_length=2000, blank=True)
    # The short code of the same email, as a keyed hash, and its failed attempts.
    code_hash = models.CharField(max_length=64, blank=True)
    code_attempts = models.PositiveSmallIntegerField(_("wrong codes"), default=0)
    # Hash of the browser-binding cookie's verifier (BIND_TO_BROWSER).
    browser_hash = models.CharField(max_length=64, blank=True)

    objects = IssuedTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("login link")
        verbose_name_plural = _("login links")
        ordering = ["-issued_at"]
        constraints = [
            # A constraint, not unique=True: on PostgreSQL the latter adds a second,
            # varchar_pattern_ops index that no query uses, on every insert.
            models.UniqueConstraint(fields=["jti"], name="jwt_email_issued_jti"),
        ]
        indexes = [
            models.Index(fields=["user", "-issued_at"], name="jwt_email_issued_user"),
            models.Index(fields=["expires_at"], name="jwt_email_issued_expires"),
            models.Index(fields=["issued_at"], name="jwt_email_issued_at"),
            # The code endpoint's lookup: outstanding links of one address.
            models.Index(
                fields=["email_hash"],
                name="jwt_email_issued_code",
                condition=Q(used_at=None, revoked_at=None),
            ),
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.jti[:8]}…"

    def state(self, now: datetime | None = None) -> str:
        """One of ``STATES``: the same answer as ``IssuedTokenQuerySet.in_state``."""
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.used_at is not None:
            return "used"
        if self.expires_at <= now:
            return "expired"
        if self.code_attempts >= app_settings.CODE_MAX_ATTEMPTS:
            return "locked"
        return "active"

    @property
    def status(self) -> str:
        return self.state()


class SignInSessionQuerySet(models.QuerySet["SignInSession"]):
    def live(self, now: datetime | None = None) -> SignInSessionQuerySet:
        """Sessions not revoked and not past their absolute expiry."""
        return self.filter(revoked_at=None, expires_at__gt=now or timezone.now())

    def revoke(
        self, sessions: list[SignInSession], reason: str, now: datetime
    ) -> list[SignInSession]:
        """Revoke each of ``sessions`` that is not revoked yet, by one conditional UPDATE
        of its row; return those this call revoked. Call it inside a transaction.

        A refresh rotating one of them updates the same row: the database serialises
        the two, so the refresh either committed first (and its new generation is
        revoked here) or finds the row revoked. Read ``sessions`` before the
        transaction (``unrevoked()``): on SQLite, a read then a write in one deferred
        transaction can fail at once with "database is locked" under concurrency.
        """
        revoked = []
        for session in sessions:
            if self.filter(pk=session.pk, revoked_at=None).update(
                revoked_at=now, revoke_reason=reason[:64]
            ):
                session.revoked_at, session.revoke_reason = now, reason[:64]
                revoked.append(session)
        return revoked

    def unrevoked(self) -> list[SignInSession]:
        """The sessions of this queryset not revoked yet, with their users."""
        return list(self.filter(revoked_at=None).select_related("user").order_by("pk"))

    def rotate(
        self, sid: str, user_id: Any, generation: int, now: datetime
    ) -> tuple[SignInSession, Any] | None:
        """Advance the live API session ``sid`` of user ``user_id`` from ``generation``
        to the next, if that user is active; return the session and its user, or None.

        The generation check, the revocation and expiry checks and the user's
        ``is_active`` are conditions of one UPDATE, so of two refreshes of one
        token exactly one advances it, and none advances a session that a logout
        revoked. On PostgreSQL the user comes back from the same statement.
        """
        connection = connections[self.db]
        if connection.vendor == "postgresql":
            return self._rotate_returning(sid, user_id, generation, now)
        rotated = (
            self.filter(
                sid=sid,
                user_id=user_id,
                generation=generation,
                revoked_at=None,
                expires_at__gt=now,
                session_key="",
                user__in=active_users(),
            )
            .order_by()
            .update(
                generation=F("generation") + 1,
                refreshed_at=now,
                refresh_count=F("refresh_count") + 1,
            )
        )
        if rotated != 1:
            return None
        session = self.select_related("user").get(sid=sid)
        return session, session.user

    def _rotate_returning(
        self, sid: str, user_id: Any, generation: int, now: datetime
    ) -> tuple[SignInSession, Any] | None:
        user_model = get_user_model()
        connection = connections[self.db]
        quote = connection.ops.quote_name
        table, users = quote(SignInSession._meta.db_table), quote(user_model._meta.db_table)
        user_pk = quote(str(user_model._meta.pk.column))
        active = f"AND u.{quote('is_active')} " if _has_active_field(user_model) else ""
        columns = ", ".join(
            f"u.{quote(str(field.column))}" for field in user_model._meta.concrete_fields
        )
        # Identifiers come from the models' metadata, quoted; every value is a parameter.
        sql = (
            f"UPDATE {table} AS s SET generation = s.generation + 1, refreshed_at = %s, "  # noqa: S608
            f"refresh_count = s.refresh_count + 1 FROM {users} AS u "
            f"WHERE s.sid = %s AND s.user_id = %s AND s.generation = %s AND s.revoked_at IS NULL "
            f"AND s.expires_at > %s AND s.session_key = '' AND u.{user_pk} = s.user_id "
            f"{active}"
            f"RETURNING {columns}, s.id AS jwt_email_session_pk, "
            f"s.generation AS jwt_email_generation, s.expires_at AS jwt_email_expires_at"
        )
        # raw() maps the returned columns onto a user and applies the fields' converters.
        params = [now, sid, user_id, generation, now]
        rows = list(user_model._default_manager.db_manager(self.db).raw(sql, params))
        if not rows:
            return None
        user = rows[0]
        returned = vars(user)  # the session's columns, set on the user by raw()
        session = SignInSession(
            pk=returned["jwt_email_session_pk"],
            sid=sid,
            user=user,
            generation=returned["jwt_email_generation"],
            expires_at=returned["jwt_email_expires_at"],
            refreshed_at=now,
        )
        return session, user


def active_users() -> QuerySet[Any]:
    """The primary keys of the active users (all of them, for a model without is_active)."""
    user_model = get_user_model()
    users = user_model._default_manager.all()
    if _has_active_field(user_model):
        users = users.filter(is_active=True)
    return users.values("pk")


def _has_active_field(user_model: Any) -> bool:
    try:
        return user_model._meta.get_field("is_active").concrete
    except FieldDoesNotExist:
        return False


class SignInSession(models.Model):
    """One sign-in: an API session (a family of refresh tokens, ``sid``) or a browser
    session (a Django session, ``session_key``).

    Storage grows with sign-ins, not refreshes: a refresh token carries its session's
    ``sid`` and ``generation``, and a refresh is one conditional UPDATE of this row
    (``generation = generation + 1 WHERE generation = <the token's>``). Revocation
    updates the same row, so a refresh and a logout are serialised by the database:
    neither can miss the other.
    """

    sid = models.CharField(_("session id"), max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="jwt_email_sessions",
        db_index=False,  # served by the (user, -created_at) index
    )
    # The generation the next refresh token presented must carry; +1 per refresh.
    generation = models.PositiveIntegerField(_("generation"), default=0)
    created_at = models.DateTimeField(_("signed in"), default=timezone.now)
    # Absolute: REFRESH_TOKEN_TTL after the sign-in (a browser session: its age).
    # Rotation never extends it (ASVS 10.4.8).
    expires_at = models.DateTimeField(_("expires at"))
    refreshed_at = models.DateTimeField(_("last refresh"), null=True, blank=True)
    # Refreshes are counted here rather than written one audit row each.
    refresh_count = models.PositiveIntegerField(_("refreshes"), default=0)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoke_reason = models.CharField(_("revoke reason"), max_length=64, blank=True)
    # The client that signed in.
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    # The login link that opened the session (its jti, as in the audit log).
    login_jti = models.CharField(_("login link"), max_length=64, blank=True)
    # A browser sign-in: the Django session's key, deleted when this is revoked.
    session_key = models.CharField(_("browser session key"), max_length=40, blank=True)

    objects = SignInSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("sign-in session")
        verbose_name_plural = _("sign-in sessions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["sid"], name="jwt_email_session_sid"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="jwt_email_session_user"),
            models.Index(fields=["expires_at"], name="jwt_email_session_expires"),
            models.Index(fields=["created_at"], name="jwt_email_session_at"),
            # Reloading the revocation marks: sessions revoked recently.
            models.Index(
                fields=["revoked_at"],
                name="jwt_email_session_revoked",
                condition=Q(revoked_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.sid[:8]}…"

    @property
    def is_browser(self) -> bool:
        return bool(self.session_key)

    def state(self, now: datetime | None = None) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= (now or timezone.now()):
            return "expired"
        return "active"


class RevokedKind(models.TextChoices):
    """What a denylist entry revokes: one token, or a whole session (``sid``)."""

    LOGIN = "login", _("login link")
    SESSION = "session", _("session (sid)")


class RevokedToken(models.Model):
    """The denylist: a revoked token (or, with kind "session", a whole ``sid``)."""

    jti = models.CharField(_("jti or sid"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=RevokedKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(_("revoked at"), default=timezone.now)
    # When the revoked token would have expired anyway: the entry can go then.
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("revoked token")
        verbose_name_plural = _("revoked tokens")
        ordering = ["-revoked_at"]
        constraints = [
            models.UniqueConstraint(fields=["jti"], name="jwt_email_revoked_jti"),
        ]
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

    event = models.CharField(_("event"), max_length=32, choices=EventType.choices)
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    jti = models.CharField(_("jti"), max_length=64, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    # Keyed hash of an address, for events of a request no user is known for yet
    # (delivery_failed): the admin's search finds them by the address typed.
    email_hash = models.CharField(max_length=64, blank=True)
    # How many occurrences this row stands for: 1, except for rows that summarise
    # events counted rather than written one by one (refusals beyond a rate).
    count = models.PositiveIntegerField(_("count"), default=1)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    objects = TokenEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("token event")
        verbose_name_plural = _("token events")
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
