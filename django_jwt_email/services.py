"""The flows: request → issue → send → verify → sign in / pair → refresh → revoke.

This is the only module where tokens, models, the audit log and email meet
(which account an address names is the question of ``accounts``). Views, admin
actions, commands and tasks call these functions and nothing below them. Every
refusal is recorded through ``audit.record`` before it is raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.db import connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string

from . import audit, codes, emails, revocation, tokens
from .accounts import email_of, find_user, get_or_create_account, lookalike_exists
from .conf import app_settings
from .exceptions import (
    BrowserMismatch,
    CodeInvalid,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    TokenUsed,
)
from .models import EventType as Event
from .models import IssuedToken, RevokedKind, RevokedToken, TokenEvent, TokenKind


@dataclass(frozen=True)
class Client:
    """Where a request came from, for the audit log and the email."""

    ip: str | None = None
    user_agent: str = ""


# --- request → issue → send ------------------------------------------------------


def request_link(
    email: str,
    *,
    next_url: str = "",
    client: Client | None = None,
    browser_hash: str = "",
    staff_only: bool = False,
) -> None:
    """Hand one sign-in request to the configured EMAIL_SENDER.

    Whether the account exists is decided inside the delivery unit, not here,
    so that with a queued sender the caller's response is the same in content
    and in time for every address.
    """
    client = client or Client()
    payload = {
        "email": email,
        "next_url": next_url,
        "ip": client.ip,
        "user_agent": client.user_agent[:255],
        "browser_hash": browser_hash,
        "staff_only": staff_only,
        "requested_at": timezone.now().isoformat(),
    }
    sender = import_string(app_settings.EMAIL_SENDER)
    sender(payload)


def deliver_now(payload: dict[str, Any]) -> None:
    """The default EMAIL_SENDER: run the delivery unit inline, in the request."""
    deliver(**payload)


def deliver(
    email: str,
    next_url: str = "",
    ip: str | None = None,
    user_agent: str = "",
    browser_hash: str = "",
    staff_only: bool = False,
    requested_at: str | None = None,
) -> None:
    """The delivery unit: find the account, mint and store a login token, send it."""
    user = find_user(email)
    if not _may_receive_link(user, email, staff_only=staff_only):
        return
    # The message goes to the stored address, never the typed one (compare
    # Django's CVE-2019-19844); a sign-up link goes to the address as given.
    address = email_of(user) if user is not None else BaseUserManager.normalize_email(email)
    client = Client(ip, user_agent)
    token = issue_login(user, address, client, next_url=next_url, browser_hash=browser_hash)
    send_login(
        token,
        to=address,
        user=user,
        client=client,
        requested_at=parse_datetime(requested_at) if requested_at else None,
    )


def _may_receive_link(user: Any, email: str, *, staff_only: bool) -> bool:
    if user is not None:
        return bool(user.is_active) and (bool(getattr(user, "is_staff", False)) or not staff_only)
    if staff_only or not app_settings.CREATE_USERS:
        return False
    # No sign-up for an address that only differs from an existing account's by
    # case or a Unicode trick (dotless i for i): it would open a look-alike
    # account, and the owner of "mike" never asked for it.
    return not lookalike_exists(email)


def issue_login(
    user: Any, address: str, client: Client, *, next_url: str = "", browser_hash: str = ""
) -> tokens.Token:
    """Mint a login token for ``user`` (None: a sign-up for ``address``) and store it."""
    token = tokens.mint(tokens.LOGIN, subject=str(user.pk) if user is not None else None)
    IssuedToken.objects.create(
        jti=token.jti,
        kind=TokenKind.LOGIN,
        user=user,
        email_hash=codes.hash_email(address),
        signup_email=address if user is None else "",
        issued_at=token.issued_at,
        expires_at=token.expires_at,
        ip=client.ip,
        user_agent=client.user_agent[:255],
        next_url=next_url,
        code_hash=codes.hash_code(codes.derive_code(token.jti)),
        browser_hash=browser_hash,
    )
    _record(Event.ISSUED, client, jti=token.jti, user=user)
    return token


def send_login(
    token: tokens.Token,
    *,
    to: str,
    user: Any,
    client: Client,
    requested_at: datetime | None = None,
) -> bool:
    """Email the link and code of ``token`` to ``to``; record ``email_sent`` or
    ``email_failed``. A failure is recorded, never raised: the caller's answer must
    not depend on it (it would tell which addresses have an account)."""
    try:
        message = emails.LoginEmail(
            to=to,
            link=emails.build_link(token.token),
            code=codes.format_code(codes.derive_code(token.jti)),
            expires_at=token.expires_at,
            expires_minutes=max(1, round(tokens.ttl(tokens.LOGIN).total_seconds() / 60)),
            requested_at=requested_at,
            ip=client.ip,
            user_agent=client.user_agent,
            signup=user is None,
        )
        emails.send_login_email(message)
    except Exception as exc:  # SMTP errors, a bad LINK_BASE_URL, a broken template
        _record(Event.EMAIL_FAILED, client, jti=token.jti, user=user, reason=type(exc).__name__)
        return False
    _record(Event.EMAIL_SENT, client, jti=token.jti, user=user)
    return True


# --- verify → sign in / pair -------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    user: Any
    next_url: str


def check_login(token: str) -> IssuedToken:
    """The issued row of a login token that could be redeemed now; consumes nothing.

    For the GET of the verify page: mail scanners prefetch links, so looking
    must never use a link up. Raises a TokenError; records nothing.
    """
    row = _login_row(token, browser_verifier=None, check_browser=False)
    reason = _why_not_active(row, timezone.now())
    if reason.reason != "not_consumed":
        raise reason
    return row


def redeem_login(token: str, *, client: Client, browser_verifier: str | None = None) -> SignIn:
    """Consume a login link's token for a browser sign-in.

    Raises a TokenError (recorded as ``rejected``), BrowserMismatch among them.
    """
    with _audited(client):
        row = _login_row(token, browser_verifier)
        with transaction.atomic():
            return SignIn(_sign_in(row, client), row.next_url)


def sign_in_pair(token: str, *, client: Client, browser_verifier: str | None = None) -> Pair:
    """Redeem a login link for an API client: one transaction, one new session."""
    with _audited(client):
        row = _login_row(token, browser_verifier)
        with transaction.atomic():
            return issue_pair(_sign_in(row, client), client=client)


def redeem_code(
    email: str, code: str, *, client: Client, browser_verifier: str | None = None
) -> SignIn:
    """Consume the login link whose short code was typed, for a browser sign-in.

    An unknown address, a wrong code and a locked link all give CodeInvalid; the
    right code of a browser-bound link typed in another browser, BrowserMismatch.
    """
    row = _code_row(email, code, client, browser_verifier)
    with _audited(client, as_code=True), transaction.atomic():
        return SignIn(_sign_in(row, client), row.next_url)


def code_pair(
    email: str, code: str, *, client: Client, browser_verifier: str | None = None
) -> Pair:
    """Redeem a short code for an API client (same answer as ``sign_in_pair``)."""
    row = _code_row(email, code, client, browser_verifier)
    with _audited(client, as_code=True), transaction.atomic():
        return issue_pair(_sign_in(row, client), client=client)


def _login_row(
    token: str, browser_verifier: str | None, *, check_browser: bool = True
) -> IssuedToken:
    claims = tokens.decode(token, tokens.LOGIN)
    row = _one(IssuedToken.objects.select_related("user").filter(jti=claims["jti"]))
    if row is None or row.kind != TokenKind.LOGIN:
        raise _context(TokenInvalid("unknown_jti"), jti=claims["jti"])
    if row.user_id is not None and claims.get("sub") != str(row.user_id):
        raise _context(TokenInvalid("subject_mismatch"), row)
    # A bound link opened in another browser signs nobody in there: it shows
    # the code, to be typed in the browser that asked (no dead end).
    if check_browser and not _same_browser(row, browser_verifier):
        raise _context(_other_browser(row), row)
    return row


def _same_browser(row: IssuedToken, browser_verifier: str | None) -> bool:
    """Unbound links work anywhere; a bound one only with its binding cookie."""
    return not row.browser_hash or codes.matches(
        row.browser_hash, codes.hash_verifier(browser_verifier or "")
    )


def _other_browser(row: IssuedToken) -> TokenError:
    """BrowserMismatch with the code to type in the right browser, but only for a
    link that could still be redeemed: a dead link's code is not worth showing."""
    refusal = _why_not_active(row, timezone.now())
    if refusal.reason != "not_consumed":
        return refusal
    return BrowserMismatch(codes.format_code(codes.derive_code(row.jti)))


def _code_row(email: str, code: str, client: Client, browser_verifier: str | None) -> IssuedToken:
    """The outstanding login row of ``email`` whose code was typed.

    An unknown address, a wrong code and a locked link take one path (one SELECT,
    one UPDATE counting the wrong code, one audit row) to one answer, CodeInvalid,
    so neither the answer nor its time tells which it was.
    """
    typed = codes.hash_code(code)
    cap = app_settings.CODE_MAX_ATTEMPTS
    outstanding = IssuedToken.objects.active().filter(
        kind=TokenKind.LOGIN, email_hash=codes.hash_email(email)
    )
    match = None
    # Every outstanding link of the address is compared, in constant time and
    # without stopping at a match; a link at the cap matches nothing, even with
    # its right code (concurrent guesses may have counted it there).
    for row in outstanding.select_related("user"):
        right = codes.matches(row.code_hash, typed)
        if right and row.code_attempts < cap:
            match = row
    if match is None:
        _count_wrong_code(outstanding, client)
        _record(Event.REJECTED, client, reason="wrong_code")
        raise CodeInvalid("wrong_code")
    if not _same_browser(match, browser_verifier):
        # The right code, typed outside the browser a bound link was asked from:
        # not a guess, so not counted, and the one answer that differs, since
        # only who holds the code can get it. It still signs nobody in here.
        mismatch = BrowserMismatch(codes.format_code(codes.derive_code(match.jti)))
        mismatch.detail = "This code was requested in another browser. Enter it there."
        _record(Event.REJECTED, client, jti=match.jti, user=match.user, reason=mismatch.reason)
        raise _context(mismatch, match)
    return match


def _count_wrong_code(outstanding: QuerySet[IssuedToken], client: Client) -> None:
    """Count a wrong code against every outstanding link of the address (the code
    could have been meant for any of them); revoke those at CODE_MAX_ATTEMPTS.

    The count is one UPDATE with F(), so no concurrent guess is lost. The revoke
    is decided on the counts after that UPDATE, not on those read before it, by
    every guess that finds a link at or over the cap: concurrent guesses may push
    a count past the cap, but none can skip the revoke, and the conditional UPDATE
    lets exactly one of them record it. A right code racing them is refused by
    ``_consume``, which needs the count under the cap.
    """
    outstanding.update(code_attempts=F("code_attempts") + 1)
    locked = outstanding.filter(code_attempts__gte=app_settings.CODE_MAX_ATTEMPTS)
    for row in locked.select_related("user"):
        revoked = IssuedToken.objects.filter(pk=row.pk, revoked_at=None).update(
            revoked_at=timezone.now(), revoke_reason="code_attempts_exceeded"
        )
        if revoked:
            _record(Event.CODE_ATTEMPTS_EXCEEDED, client, jti=row.jti, user=row.user)


def _sign_in(row: IssuedToken, client: Client) -> Any:
    """Inside the caller's transaction: consume ``row``, check its user, record it."""
    _consume(row)
    user = row.user if row.user is not None else _create_user(row)
    if not user.is_active:
        raise _context(TokenInvalid("inactive_user"), row, user=user)
    # A link must not outlive an address change: it was mailed to the old one.
    if codes.hash_email(email_of(user)) != row.email_hash:
        raise _context(TokenInvalid("email_changed"), row, user=user)
    _record(Event.VERIFIED, client, jti=row.jti, user=user)
    return user


def _consume(row: IssuedToken) -> None:
    """Mark ``row`` used with one conditional UPDATE whose row count decides:
    of two concurrent redemptions, exactly one sees 1. A link whose code was
    guessed wrong CODE_MAX_ATTEMPTS times is spent, even before its revoke lands."""
    now = timezone.now()
    consumed = IssuedToken.objects.filter(
        pk=row.pk,
        used_at=None,
        revoked_at=None,
        expires_at__gt=now,
        code_attempts__lt=app_settings.CODE_MAX_ATTEMPTS,
    ).update(used_at=now)
    if consumed != 1:
        row.refresh_from_db(fields=["used_at", "revoked_at", "expires_at", "code_attempts"])
        raise _context(_why_not_active(row, now), row)


def _why_not_active(row: IssuedToken, now: datetime) -> TokenError:
    if row.revoked_at is not None:
        return TokenRevoked("revoked")
    if row.used_at is not None:
        return TokenUsed("used")
    if row.expires_at <= now:
        return TokenExpired("expired")
    if row.code_attempts >= app_settings.CODE_MAX_ATTEMPTS:
        return TokenRevoked("code_attempts_exceeded")
    return TokenInvalid("not_consumed")


def _create_user(row: IssuedToken) -> Any:
    """The account of a redeemed sign-up link (created only now, never on request)."""
    user = get_or_create_account(row.signup_email)
    if user is None:
        raise _context(TokenInvalid("signup_failed"), row)
    return user


# --- pair ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    access: tokens.Token
    refresh: tokens.Token

    def as_dict(self) -> dict[str, Any]:
        return {
            "access": self.access.token,
            "refresh": self.refresh.token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in(self.access.claims["exp"]),
            "refresh_expires_in": tokens.expires_in(self.refresh.claims["exp"]),
        }


def issue_pair(
    user: Any, *, client: Client, sid: str | None = None, expires_at: datetime | None = None
) -> Pair:
    """A new access/refresh pair for ``user``; a new sign-in session unless ``sid``."""
    sid = sid or tokens.new_id()
    subject = str(user.pk)
    refresh = tokens.mint(tokens.REFRESH, subject=subject, sid=sid, expires_at=expires_at)
    access = tokens.mint(
        tokens.ACCESS,
        subject=subject,
        sid=sid,
        scope=" ".join(app_settings.ACCESS_TOKEN_SCOPES),
        now=refresh.issued_at,
        # Nor does the last access token of a session outlive it.
        expires_at=min(refresh.expires_at, refresh.issued_at + tokens.ttl(tokens.ACCESS)),
    )
    IssuedToken.objects.create(
        jti=refresh.jti,
        kind=TokenKind.REFRESH,
        user=user,
        sid=sid,
        issued_at=refresh.issued_at,
        expires_at=refresh.expires_at,
        ip=client.ip,
        user_agent=client.user_agent[:255],
    )
    return Pair(access, refresh)


# --- refresh -------------------------------------------------------------------


def refresh(token: str, *, client: Client) -> Pair:
    """Rotate a refresh token into a new pair of the same ``sid``.

    A refresh token that was already used is a reuse: somebody holds a copy.
    The whole ``sid`` family is revoked, since we cannot tell the thief from
    the owner (OAuth 2.0 Security BCP, 4.14).
    """
    with _audited(client):
        claims = tokens.decode(token, tokens.REFRESH)
        now = timezone.now()
        with transaction.atomic():
            rotated = IssuedToken.objects.filter(
                jti=claims["jti"],
                kind=TokenKind.REFRESH,
                used_at=None,
                revoked_at=None,
                expires_at__gt=now,
            ).update(used_at=now)
            user = _active_user(claims["sub"])
            if rotated == 1 and user is not None:
                # Same expiry as the token it replaces: rotation never extends a
                # family's absolute lifetime (ASVS 10.4.8).
                expires_at = datetime.fromtimestamp(claims["exp"], tz=dt_timezone.utc)
                pair = issue_pair(user, client=client, sid=claims["sid"], expires_at=expires_at)
                _record(Event.REFRESHED, client, jti=claims["jti"], user=user)
                return pair
            # Nothing to keep from this transaction; the refusal is decided below.
            transaction.set_rollback(True)
        raise _refresh_refused(claims, user, client, now)


def _active_user(pk: str) -> Any:
    return _one(get_user_model()._default_manager.filter(pk=pk, is_active=True))


def _refresh_refused(
    claims: dict[str, Any], user: Any, client: Client, now: datetime
) -> TokenError:
    row = IssuedToken.objects.select_related("user").filter(jti=claims["jti"]).first()
    if row is None or row.kind != TokenKind.REFRESH:
        return _context(TokenInvalid("unknown_jti"), jti=claims["jti"])
    if user is None:
        revoke_session(row.sid, user=row.user, reason="user_inactive", client=client)
        return _context(TokenRevoked("inactive_user"), row)
    if row.used_at is not None and row.revoked_at is None:
        _record(Event.REFRESH_REUSE, client, jti=row.jti, user=row.user, reason="reuse")
        revoke_session(row.sid, user=row.user, reason="refresh_reuse", client=client)
        return _context(TokenUsed("reuse"), row)
    return _context(_why_not_active(row, now), row)


# --- access --------------------------------------------------------------------


def authenticate_access(
    token: str, *, client: Client | Callable[[], Client] | None = None
) -> dict[str, Any]:
    """The claims of a valid, unrevoked access token. No database query unless the
    revocation cache has lost its marks.

    ``client`` may be a callable, called only to record a refusal: on every
    authenticated request, working out who asked cost more than the whole check
    of an already verified token.
    """
    try:
        claims = tokens.decode(token, tokens.ACCESS)
        if revocation.is_session_revoked(claims["sid"]):
            raise _context(TokenRevoked("session_revoked"), jti=claims["jti"])
    except TokenError:
        with _audited(client() if callable(client) else client or Client()):
            raise
    return claims


# --- revoke --------------------------------------------------------------------


def revoke_session(
    sid: str, *, user: Any, reason: str, client: Client | None = None, revoked_by: Any = None
) -> int:
    """Revoke a whole sign-in session: its refresh tokens and its access tokens."""
    return revoke_sessions([sid], user=user, reason=reason, client=client, revoked_by=revoked_by)


def revoke_sessions(
    sids: Iterable[str],
    *,
    user: Any,
    reason: str,
    client: Client | None = None,
    revoked_by: Any = None,
) -> int:
    """Revoke sign-in sessions: their refresh tokens in the database, their access
    tokens by a mark in the revocation cache. Returns how many were not revoked
    already (only those are recorded)."""
    sids = sorted({sid for sid in sids if sid})
    if not sids:
        return 0
    now = timezone.now()
    # Marks are needed only as long as an access token of the session can live.
    marks_expire = now + app_settings.ACCESS_TOKEN_TTL + app_settings.LEEWAY
    with transaction.atomic():
        IssuedToken.objects.filter(sid__in=sids, revoked_at=None).update(
            revoked_at=now, revoke_reason=reason[:64]
        )
        fresh = _deny(
            sids,
            kind=RevokedKind.SESSION,
            user=user,
            reason=reason,
            revoked_by=revoked_by,
            revoked_at=now,
            expires_at=marks_expire,
        )
        for sid in fresh:
            _record(Event.REVOKED, client or Client(), jti=sid, user=user, reason=reason)
    # Marked again even if known: it refreshes a mark the cache may have lost.
    revocation.mark_sessions(sids, marks_expire)
    return len(fresh)


def _deny(jtis: list[str], *, kind: str, user: Any, reason: str, **fields: Any) -> list[str]:
    """Put ``jtis`` on the denylist; return those that were not on it yet."""
    listed = set(RevokedToken.objects.filter(jti__in=jtis).values_list("jti", flat=True))
    fresh = [jti for jti in jtis if jti not in listed]
    RevokedToken.objects.bulk_create(
        [
            RevokedToken(jti=jti, kind=kind, user=user, reason=reason[:64], **fields)
            for jti in fresh
        ],
        ignore_conflicts=True,  # revoked meanwhile by a concurrent request
    )
    return fresh


def revoke_issued(
    rows: Iterable[IssuedToken],
    *,
    reason: str,
    revoked_by: Any = None,
    client: Client | None = None,
) -> int:
    """Revoke issued tokens (admin action, command): login links by ``jti``, refresh
    tokens with their whole session. Returns how many were revoked by this call."""
    count = 0
    for row in rows:
        if row.kind == TokenKind.REFRESH:
            count += revoke_session(
                row.sid, user=row.user, reason=reason, client=client, revoked_by=revoked_by
            )
        else:
            count += _revoke_link(row, reason=reason, revoked_by=revoked_by, client=client)
    return count


def _revoke_link(row: IssuedToken, *, reason: str, revoked_by: Any, client: Client | None) -> int:
    now = timezone.now()
    with transaction.atomic():
        revoked = IssuedToken.objects.filter(pk=row.pk, revoked_at=None).update(
            revoked_at=now, revoke_reason=reason[:64]
        )
        if revoked:
            _deny(
                [row.jti],
                kind=row.kind,
                user=row.user,
                reason=reason,
                revoked_by=revoked_by,
                revoked_at=now,
                expires_at=row.expires_at,
            )
            _record(Event.REVOKED, client or Client(), jti=row.jti, user=row.user, reason=reason)
    return revoked


def revoke_token(token: str, *, client: Client) -> None:
    """RFC 7009: revoke whatever valid token this is; ignore anything else."""
    for kind in (tokens.REFRESH, tokens.ACCESS, tokens.LOGIN):
        try:
            claims = tokens.decode(token, kind)
        except TokenError:
            continue
        if kind == tokens.LOGIN:
            revoke_issued(
                IssuedToken.objects.filter(jti=claims["jti"]),
                reason="client_revoked",
                client=client,
            )
        else:
            user = get_user_model()._default_manager.filter(pk=claims["sub"]).first()
            revoke_session(claims["sid"], user=user, reason="client_revoked", client=client)
        return


def logout_all(
    user: Any, *, reason: str = "logout_all", client: Client | None = None, revoked_by: Any = None
) -> None:
    """Revoke every token of ``user``: sign out everywhere."""
    now = timezone.now()
    live_since = now - app_settings.ACCESS_TOKEN_TTL - app_settings.LEEWAY
    # Sessions already revoked keep their marks; saving an inactive user again
    # (receivers) must not revoke and record them once more.
    sids = IssuedToken.objects.filter(
        user=user, kind=TokenKind.REFRESH, expires_at__gt=live_since, revoked_at=None
    ).values_list("sid", flat=True)
    revoke_sessions(set(sids), user=user, reason=reason, client=client, revoked_by=revoked_by)
    links = IssuedToken.objects.filter(user=user, kind=TokenKind.LOGIN).active()
    revoke_issued(links, reason=reason, client=client, revoked_by=revoked_by)


# --- limits --------------------------------------------------------------------


def record_rate_limited(group: str, *, client: Client) -> None:
    """Record that a request of endpoint group ``group`` was held back by a limit."""
    _record(Event.RATE_LIMITED, client, reason=group)


# --- cleanup -------------------------------------------------------------------


def cleanup_targets(now: datetime | None = None) -> dict[str, QuerySet[Any]]:
    """What ``jwt_email_cleanup`` may delete, by label: rows nothing will consult again.

    An issued row outlives its token's expiry by ACCESS_TOKEN_TTL + LEEWAY: within
    LEEWAY the token still decodes, and presenting a used refresh token then must
    still count as a reuse (the extra ACCESS_TOKEN_TTL is a margin, matching the
    window ``logout_all`` looks back over for live sessions). Afterwards the token
    is refused as expired, with or without its row. Denylist entries go at their
    own ``expires_at``; audit events once older than AUDIT_RETENTION.
    """
    now = now or timezone.now()
    grace = app_settings.ACCESS_TOKEN_TTL + app_settings.LEEWAY
    return {
        "issued tokens": IssuedToken.objects.filter(expires_at__lt=now - grace),
        "revoked tokens": RevokedToken.objects.filter(expires_at__lte=now),
        "events": TokenEvent.objects.filter(created_at__lt=now - app_settings.AUDIT_RETENTION),
    }


def delete_in_batches(
    queryset: QuerySet[Any], batch_size: int, *, pause: float | None = None
) -> Iterator[int]:
    """Delete ``queryset`` ``batch_size`` rows at a time, in primary-key order;
    yield each batch's count.

    Each batch is one short transaction (its keys selected, then deleted by key
    in statements that respect the database's parameter limit), so no lock is
    held for long. On SQLite, whose one writer lock is taken by the next batch
    the moment the last one commits, a pause between batches lets waiting
    sign-ins in (its busy handler polls at up to 100 ms), and a larger page cache
    for this connection keeps the index pages of the table in memory across
    batches (deleting rows rewrites pages all over the random-order indexes).
    """
    database = queryset.db
    connection = connections[database]
    sqlite = connection.vendor == "sqlite"
    pause = (0.1 if sqlite else 0.0) if pause is None else pause
    chunk = connection.features.max_query_params or batch_size
    last_pk = None
    with _bulk_delete_cache(connection):
        while True:
            page = queryset.order_by("pk")
            if last_pk is not None:
                page = page.filter(pk__gt=last_pk)
            pks = list(page.values_list("pk", flat=True)[:batch_size])
            if not pks:
                return
            with transaction.atomic(using=database):
                deleted = sum(
                    queryset.model._base_manager.using(database)
                    .filter(pk__in=pks[start : start + chunk])
                    .delete()[0]
                    for start in range(0, len(pks), chunk)
                )
            yield deleted
            if len(pks) < batch_size:
                return
            last_pk = pks[-1]
            time.sleep(pause)


# SQLite's page cache for the cleanup's connection, in KiB (negative: a size, not
# pages). Only an upper bound: memory is used as pages are read.
SQLITE_CLEANUP_CACHE_KIB = 256 * 1024


@contextmanager
def _bulk_delete_cache(connection: Any) -> Iterator[None]:
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CLEANUP_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


# --- shared steps --------------------------------------------------------------


def _one(queryset: QuerySet[Any]) -> Any:
    """The row of a lookup by a unique key, or None. Unlike ``first()``, no ORDER
    BY: on the sign-in and refresh paths its compilation cost ~0.1 ms a call, to
    sort at most one row."""
    return next(iter(queryset.order_by()[:1]), None)


@contextmanager
def _audited(client: Client, *, as_code: bool = False) -> Iterator[None]:
    """Record a refused token as ``rejected``, after any transaction is rolled back.

    Use it outside ``transaction.atomic()``, so the audit row outlives the rollback.
    With ``as_code``, a refusal becomes the one answer of the code endpoint.
    """
    try:
        yield
    except TokenError as exc:
        _record(
            Event.REJECTED,
            client,
            jti=exc.jti,
            user=exc.user,
            reason=exc.reason,
        )
        if as_code:
            raise CodeInvalid(exc.reason) from None
        raise


def _context(
    error: TokenError, row: IssuedToken | None = None, *, jti: str = "", user: Any = None
) -> TokenError:
    """Attach the token's ``jti`` and user to ``error`` for the audit record."""
    error.jti = row.jti if row is not None else jti
    error.user = user or (row.user if row is not None else None)
    return error


def _record(event: str, client: Client, **kwargs: Any) -> None:
    audit.record(event, ip=client.ip, user_agent=client.user_agent, **kwargs)
