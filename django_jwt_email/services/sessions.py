"""Sign-in sessions: the API's access/refresh pair, rotation with reuse detection,
Bearer checks without the database, and revocation of one session, one token or all
of a user's (browser sessions included).

A session is one row (``SignInSession``); its refresh tokens carry its ``sid`` and
``generation``. Rotation and revocation both update that row, so the database
serialises them: a refresh cannot slip past a logout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .. import accounts, audit, limits, revocation, tokens
from ..adapter import get_adapter
from ..clientinfo import Client
from ..conf import app_settings
from ..exceptions import TokenError, TokenExpired, TokenInvalid, TokenRevoked, TokenUsed
from ..models import EventType as Event
from ..models import (
    IssuedToken,
    RevokedKind,
    RevokedToken,
    SignInSession,
    SignInSessionQuerySet,
)
from ..tokens import TokenKind
from .refusals import about, audited, unique

# --- sign in ---------------------------------------------------------------------


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


def start_session(
    user: Any,
    *,
    client: Client,
    login_jti: str = "",
    session_key: str = "",
    lifetime: timedelta | None = None,
) -> SignInSession:
    """Record a new sign-in of ``user``: an API session, or with ``session_key`` the
    browser's Django session (so that signing out everywhere can end it)."""
    session = new_session(
        user.pk, client=client, login_jti=login_jti, session_key=session_key, lifetime=lifetime
    )
    session.save(force_insert=True)
    return session


def new_session(
    user_id: Any,
    *,
    client: Client,
    login_jti: str = "",
    session_key: str = "",
    lifetime: timedelta | None = None,
) -> SignInSession:
    """The unsaved row of a new sign-in of the user ``user_id`` (see ``start_session``)."""
    now = timezone.now().replace(microsecond=0)
    return SignInSession(
        sid=tokens.new_id(),
        user_id=user_id,
        created_at=now,
        expires_at=now + (lifetime or app_settings.REFRESH_TOKEN_TTL),
        ip=client.ip,
        user_agent=client.user_agent[:255],
        login_jti=login_jti,
        session_key=session_key,
    )


def issue_pair(
    user: Any,
    *,
    client: Client,
    login_jti: str = "",
    request: Any = None,
    session: SignInSession | None = None,
) -> Pair:
    """A new API session for ``user`` (or ``session``, already written) and its first
    access/refresh pair.

    Counts as a login (``user_logged_in``, which sets ``last_login``) with
    UPDATE_LAST_LOGIN: ``request`` is passed on to the signal's receivers.
    """
    if session is None:
        session = start_session(user, client=client, login_jti=login_jti)
    if app_settings.UPDATE_LAST_LOGIN:
        user_logged_in.send(sender=type(user), request=request, user=user)
    return mint_pair(user, session)


def mint_pair(user: Any, session: SignInSession) -> Pair:
    """The pair of ``session``'s current generation. Scopes and extra claims come from
    the adapter now, at mint time, never per request."""
    adapter = get_adapter()
    subject = str(user.pk)
    refresh = tokens.mint(
        TokenKind.REFRESH,
        subject=subject,
        sid=session.sid,
        generation=session.generation,
        # Every refresh token of a session expires with it: rotation never extends
        # a session's absolute lifetime (ASVS 10.4.8).
        expires_at=session.expires_at,
    )
    access = tokens.mint(
        TokenKind.ACCESS,
        subject=subject,
        sid=session.sid,
        scope=" ".join(adapter.scopes_for(user)),
        extra=adapter.access_claims(user),
        now=refresh.issued_at,
        # Nor does the last access token of a session outlive it.
        expires_at=min(refresh.expires_at, refresh.issued_at + tokens.ttl(TokenKind.ACCESS)),
    )
    return Pair(access, refresh)


# --- refresh -----------------------------------------------------------------------


def refresh(token: str, *, client: Client) -> Pair:
    """Rotate a refresh token into a new pair of the same session.

    One conditional UPDATE of the session's row advances its generation. A token of
    an older generation is a reuse: somebody holds a copy, and since the thief
    cannot be told from the owner, the whole session is revoked (OAuth 2.0
    Security BCP, 4.14).
    """
    with audited(client):
        claims = tokens.decode(token, TokenKind.REFRESH)
        try:
            user_id = accounts.user_key(claims["sub"])
        except ValidationError:  # no key of this user model: refused below
            user_id = None
        with transaction.atomic():
            rotated = (
                SignInSession.objects.rotate(claims["sid"], user_id, claims["gen"], timezone.now())
                if user_id is not None
                else None
            )
            if rotated is not None:
                session, user = rotated
                pair = mint_pair(user, session)
                # Counted on the session's row (refresh_count); a row each only if asked.
                audit.record(
                    Event.REFRESHED,
                    client=client,
                    jti=claims["jti"],
                    user=user,
                    save=app_settings.AUDIT_EVERY_REFRESH,
                )
                return pair
        raise _refresh_refused(claims, client)


def _refresh_refused(claims: dict[str, Any], client: Client) -> TokenError:
    """Why a refresh token did not rotate: read only on this path."""
    session = unique(SignInSession.objects.select_related("user").filter(sid=claims["sid"]))
    jti = claims["jti"]
    if session is None or session.is_browser or str(session.user_id) != claims["sub"]:
        return about(TokenInvalid("unknown_sid"), jti=jti)
    user = session.user
    if session.revoked_at is not None:
        return about(TokenRevoked("revoked"), jti=jti, user=user)
    if session.expires_at <= timezone.now():
        return about(TokenExpired("expired"), jti=jti, user=user)
    if claims["gen"] < session.generation:
        audit.record(Event.REFRESH_REUSE, client=client, jti=jti, user=user, reason="reuse")
        revoke_sessions([session.sid], reason="refresh_reuse", client=client)
        return about(TokenUsed("reuse"), jti=jti, user=user)
    if claims["gen"] > session.generation:  # signed by us, yet never issued: a restore?
        return about(TokenInvalid("unknown_generation"), jti=jti, user=user)
    # Live, the right generation, and still not rotated: the user is inactive (or
    # was deactivated without save(), so no receiver revoked the session).
    revoke_sessions([session.sid], reason="user_inactive", client=client)
    return about(TokenRevoked("inactive_user"), jti=jti, user=user)


# --- access ------------------------------------------------------------------------


def authenticate_access(
    token: str, *, client: Client | Callable[[], Client] | None = None
) -> dict[str, Any]:
    """The claims of a valid, unrevoked access token. No database query unless the
    revocation cache has lost its marks or cannot be reached.

    ``client`` may be a callable, called only to record a refusal: on every
    authenticated request, working out who asked cost more than the whole check
    of an already verified token.
    """
    try:
        claims = tokens.decode(token, TokenKind.ACCESS)
        if revocation.is_session_revoked(claims["sid"]):
            raise about(TokenRevoked("session_revoked"), jti=claims["jti"])
    except TokenError:
        asked = client() if callable(client) else client or Client()
        if not limits.keep_bearer_refusal(asked.ip):
            raise  # beyond bearer_failed_ip: counted, not written (see limits)
        with audited(asked):
            raise
    return claims


# --- revoke ------------------------------------------------------------------------


def revoke_session(
    sid: str, *, reason: str, client: Client | None = None, revoked_by: Any = None
) -> int:
    """Revoke one sign-in session: its refresh tokens and its access tokens."""
    return revoke_sessions([sid], reason=reason, client=client, revoked_by=revoked_by)


def revoke_sessions(
    sessions: Iterable[str] | QuerySet[SignInSession],
    *,
    reason: str,
    client: Client | None = None,
    revoked_by: Any = None,
) -> int:
    """Revoke sign-in sessions (a queryset, or ``sid`` values): on their rows and the
    denylist first, then a mark in the revocation cache for their access tokens,
    and the Django session of each browser sign-in. Returns how many were not
    revoked already (only those are recorded)."""
    if not isinstance(sessions, QuerySet):
        sessions = SignInSession.objects.filter(sid__in=sorted(set(sessions)))
    candidates = cast(SignInSessionQuerySet, sessions).unrevoked()
    if not candidates:
        return 0
    now = timezone.now()
    # Marks are needed only as long as an access token of the session can live.
    marks_expire = now + app_settings.ACCESS_TOKEN_TTL + app_settings.LEEWAY
    with transaction.atomic():
        revoked = SignInSession.objects.revoke(candidates, reason, now)
        _deny(
            [(session.sid, session.user) for session in revoked],
            kind=RevokedKind.SESSION,
            reason=reason,
            revoked_by=revoked_by,
            revoked_at=now,
            expires_at=marks_expire,
        )
        for session in revoked:
            audit.record(
                Event.REVOKED, client=client, jti=session.sid, user=session.user, reason=reason
            )
    # After the commit: a mark that fails to be written is re-written later, and the
    # database already refuses the session (see ``revocation``).
    revocation.mark_sessions([s.sid for s in revoked if not s.is_browser], marks_expire)
    end_browser_sessions([s.session_key for s in revoked if s.is_browser])
    return len(revoked)


def _deny(entries: list[tuple[str, Any]], *, kind: str, reason: str, **fields: Any) -> None:
    """Put ``(jti or sid, user)`` entries on the denylist (who revoked what, and when)."""
    RevokedToken.objects.bulk_create(
        [
            RevokedToken(jti=jti, kind=kind, user=user, reason=reason[:64], **fields)
            for jti, user in entries
        ],
        ignore_conflicts=True,  # listed meanwhile by a concurrent request
    )


def revoke_issued(
    rows: Iterable[IssuedToken],
    *,
    reason: str,
    revoked_by: Any = None,
    client: Client | None = None,
) -> int:
    """Revoke login links (admin action, command, RFC 7009). Returns how many were
    revoked by this call."""
    count = 0
    for row in rows:
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
                [(row.jti, row.user)],
                kind=RevokedKind.LOGIN,
                reason=reason,
                revoked_by=revoked_by,
                revoked_at=now,
                expires_at=row.expires_at,
            )
            audit.record(Event.REVOKED, client=client, jti=row.jti, user=row.user, reason=reason)
    return revoked


def revoke_token(token: str, *, client: Client) -> None:
    """RFC 7009: revoke whatever valid token this is; ignore anything else."""
    for kind in (TokenKind.REFRESH, TokenKind.ACCESS, TokenKind.LOGIN):
        try:
            claims = tokens.decode(token, kind)
        except TokenError:
            continue
        if kind == TokenKind.LOGIN:
            links = IssuedToken.objects.select_related("user").filter(jti=claims["jti"])
            revoke_issued(links, reason="client_revoked", client=client)
        else:
            revoke_session(claims["sid"], reason="client_revoked", client=client)
        return


def logout_all(
    user: Any,
    *,
    reason: str = "logout_all",
    client: Client | None = None,
    revoked_by: Any = None,
    keep_session_key: str = "",
) -> None:
    """Sign ``user`` out everywhere: every session (API and browser) and every
    outstanding login link; all but the browser session ``keep_session_key``."""
    # Sessions already revoked keep their marks; saving an inactive user again
    # (receivers) must not revoke and record them once more.
    live_since = timezone.now() - app_settings.LEEWAY
    sessions = SignInSession.objects.filter(user=user, expires_at__gt=live_since)
    if keep_session_key:
        sessions = sessions.exclude(session_key=keep_session_key)
    revoke_sessions(sessions, reason=reason, client=client, revoked_by=revoked_by)
    links = IssuedToken.objects.filter(user=user).redeemable().select_related("user")
    revoke_issued(links, reason=reason, client=client, revoked_by=revoked_by)
    end_other_browser_sessions(user, keep=keep_session_key)


# --- browser sessions ----------------------------------------------------------------


def end_browser_sessions(session_keys: Iterable[str]) -> None:
    """Delete the Django sessions of these browser sign-ins, whatever the backend."""
    keys = [key for key in session_keys if key]
    if not keys:
        return
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()


# The backends whose sessions can be searched for a user (they live in a table).
DATABASE_SESSION_ENGINES = {
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
}


def end_other_browser_sessions(user: Any, *, keep: str = "") -> None:
    """With a database session backend, also delete the sessions of ``user`` that this
    app did not sign in (a password login, say), except the session ``keep``."""
    if settings.SESSION_ENGINE not in DATABASE_SESSION_ENGINES:
        return
    from django.contrib.sessions.models import Session

    store = import_module(settings.SESSION_ENGINE).SessionStore
    user_id = str(user.pk)
    live = Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep)
    # Session data is encoded, so each live session is decoded to find the user's: a
    # scan, but only on "sign out everywhere", and in chunks of bounded memory.
    for key, data in live.values_list("session_key", "session_data").iterator(chunk_size=2000):
        if store().decode(data).get("_auth_user_id") == user_id:
            store(session_key=key).delete()


def end_browser_session(session_key: str, *, reason: str = "logout") -> None:
    """The browser signed out: its session row is revoked (recorded once)."""
    if session_key:
        revoke_sessions(SignInSession.objects.filter(session_key=session_key), reason=reason)


__all__ = [
    "Pair",
    "authenticate_access",
    "end_browser_session",
    "issue_pair",
    "logout_all",
    "new_session",
    "refresh",
    "revoke_issued",
    "revoke_session",
    "revoke_sessions",
    "revoke_token",
    "start_session",
]
