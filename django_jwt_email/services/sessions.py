"""API sessions: the access/refresh pair, rotation with reuse detection, Bearer
checks without the database, and revocation (one session, one token, or all)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .. import limits, revocation, tokens
from ..conf import app_settings
from ..exceptions import TokenError, TokenInvalid, TokenRevoked, TokenUsed
from ..models import EventType as Event
from ..models import IssuedToken, RevokedKind, RevokedToken, TokenKind
from .steps import Client, attach, audited, one, record, why_not_active

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
    with audited(client):
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
                record(Event.REFRESHED, client, jti=claims["jti"], user=user)
                return pair
            # Nothing to keep from this transaction; the refusal is decided below.
            transaction.set_rollback(True)
        raise _refresh_refused(claims, user, client, now)


def _active_user(pk: str) -> Any:
    return one(get_user_model()._default_manager.filter(pk=pk, is_active=True))


def _refresh_refused(
    claims: dict[str, Any], user: Any, client: Client, now: datetime
) -> TokenError:
    row = IssuedToken.objects.select_related("user").filter(jti=claims["jti"]).first()
    if row is None or row.kind != TokenKind.REFRESH:
        return attach(TokenInvalid("unknown_jti"), jti=claims["jti"])
    if user is None:
        revoke_session(row.sid, user=row.user, reason="user_inactive", client=client)
        return attach(TokenRevoked("inactive_user"), row)
    if row.used_at is not None and row.revoked_at is None:
        record(Event.REFRESH_REUSE, client, jti=row.jti, user=row.user, reason="reuse")
        revoke_session(row.sid, user=row.user, reason="refresh_reuse", client=client)
        return attach(TokenUsed("reuse"), row)
    return attach(why_not_active(row, now), row)


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
            raise attach(TokenRevoked("session_revoked"), jti=claims["jti"])
    except TokenError:
        asked = client() if callable(client) else client or Client()
        if not limits.keep_bearer_refusal(asked.ip):
            raise  # beyond bearer_failed_ip: counted, not written (see limits)
        with audited(asked):
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
            record(Event.REVOKED, client or Client(), jti=sid, user=user, reason=reason)
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
            record(Event.REVOKED, client or Client(), jti=row.jti, user=row.user, reason=reason)
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
