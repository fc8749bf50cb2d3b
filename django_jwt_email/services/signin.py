"""Sign-in by link: request → issue → send → verify → sign in (a session) or pair.

``deliver`` is the delivery unit: whether the account exists is decided there,
inline or in a Celery worker, never in the request view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string

from .. import accounts, addresses, audit, emails, limits, signin_codes, statements, tokens
from ..accounts import email_of
from ..adapter import get_adapter
from ..clientinfo import Client
from ..conf import app_settings
from ..exceptions import BrowserMismatch, TokenError, TokenInvalid, Unavailable
from ..models import EventType as Event
from ..models import IssuedToken
from ..tokens import TokenKind
from .refusals import about, audited, refusal, unique
from .sessions import Pair, issue_pair, new_session, start_session

__all__ = [
    "SignIn",
    "check_login",
    "deliver",
    "deliver_now",
    "issue_login",
    "redeem_login",
    "request_link",
    "send_login",
    "sign_in_browser",
    "sign_in_pair",
]

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
    and in time for every address. A sender that cannot hand the delivery over
    (queue broker down) raises Unavailable: recorded as ``delivery_failed``, with
    the address's keyed hash since no account is looked up, and raised again.
    """
    limits.count_request_address(email)  # raises limits.Refused beyond request_email
    client = client or Client()
    payload = {
        "email": email,
        "next_url": next_url,
        "ip": client.ip,
        "user_agent": client.user_agent[:255],
        "browser_hash": browser_hash,
        "staff_only": staff_only,
        "requested_at": timezone.now().isoformat(),
        # The email's language unless the adapter knows the user's (``send_login``).
        "language": translation.get_language(),
    }
    sender = import_string(app_settings.EMAIL_SENDER)
    try:
        sender(payload)
    except Unavailable as exc:
        email_hash = addresses.keyed_hash(email)
        audit.record(
            Event.DELIVERY_FAILED, client=client, reason=exc.reason, email_hash=email_hash
        )
        raise


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
    language: str = "",
) -> None:
    """The delivery unit: find the account, mint and store a login token, send it."""
    adapter = get_adapter()
    user = adapter.find_user(email)
    # The admin's link request: staff accounts only, whatever the adapter allows.
    if staff_only and not getattr(user, "is_staff", False):
        return
    if not adapter.may_receive_link(user, email):
        return
    # The message goes to the stored address, never the typed one (compare
    # Django's CVE-2019-19844); a sign-up link goes to the address as given.
    address = email_of(user) if user is not None else addresses.canonical(email)
    client = Client(ip, user_agent)
    token = issue_login(user, address, client, next_url=next_url, browser_hash=browser_hash)
    send_login(
        token,
        to=address,
        user=user,
        client=client,
        next_url=next_url,
        requested_at=parse_datetime(requested_at) if requested_at else None,
        language=language,
    )


def issue_login(
    user: Any, address: str, client: Client, *, next_url: str = "", browser_hash: str = ""
) -> tokens.Token:
    """Mint a login token for ``user`` (None: a sign-up for ``address``) and store it."""
    token = tokens.mint(TokenKind.LOGIN, subject=str(user.pk) if user is not None else None)
    IssuedToken.objects.create(
        jti=token.jti,
        user=user,
        email_hash=addresses.keyed_hash(address),
        signup_email=address if user is None else "",
        issued_at=token.issued_at,
        expires_at=token.expires_at,
        ip=client.ip,
        user_agent=client.user_agent[:255],
        next_url=next_url,
        code_hash=signin_codes.hash_code(signin_codes.derive_code(token.jti)),
        browser_hash=browser_hash,
    )
    audit.record(Event.ISSUED, client=client, jti=token.jti, user=user)
    return token


def send_login(
    token: tokens.Token,
    *,
    to: str,
    user: Any,
    client: Client,
    next_url: str = "",
    requested_at: datetime | None = None,
    language: str = "",
) -> bool:
    """Email the link and code of ``token`` to ``to``; record ``email_sent`` or
    ``email_failed``. A failure is recorded, never raised: the caller's answer must
    not depend on it (it would tell which addresses have an account).

    The email is in the user's language if the adapter knows it, else in
    ``language`` (the requester's)."""
    adapter = get_adapter()
    try:
        message = emails.LoginEmail(
            to=to,
            link=adapter.build_link(token.token, next_url),
            token=token.token,
            code=signin_codes.format_code(signin_codes.derive_code(token.jti)),
            expires_at=token.expires_at,
            expires_minutes=max(1, round(tokens.ttl(TokenKind.LOGIN).total_seconds() / 60)),
            requested_at=requested_at,
            ip=client.ip,
            user_agent=client.user_agent,
            signup=user is None,
            language=adapter.language_for(user, None) or language,
        )
        adapter.send_login_email(message)
    except Exception as exc:  # SMTP errors, a bad LINK_BASE_URL, a broken template
        audit.record(
            Event.EMAIL_FAILED, client=client, jti=token.jti, user=user, reason=type(exc).__name__
        )
        return False
    audit.record(Event.EMAIL_SENT, client=client, jti=token.jti, user=user)
    return True


# --- verify → sign in / pair -------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """A redeemed login link: whom it signs in, where to go next, which link it was."""

    user: Any
    next_url: str
    jti: str


def check_login(token: str) -> IssuedToken:
    """The issued row of a login token that could be redeemed now; consumes nothing.

    For the GET of the verify page: mail scanners prefetch links, so looking
    must never use a link up. Raises a TokenError; records nothing.
    """
    row = _login_row(token, browser_verifier=None, check_browser=False)
    error = refusal(row, timezone.now())
    if error is not None:
        raise error
    return row


def redeem_login(token: str, *, client: Client, browser_verifier: str | None = None) -> SignIn:
    """Consume a login link's token for a browser sign-in (see ``sign_in_browser``).

    Raises a TokenError (recorded as ``rejected``), BrowserMismatch among them.
    """
    with audited(client):
        row = _login_row(token, browser_verifier)
        with transaction.atomic():
            return SignIn(sign_in_row(row, client), row.next_url, row.jti)


def sign_in_pair(
    token: str, *, client: Client, browser_verifier: str | None = None, request: Any = None
) -> Pair:
    """Redeem a login link for an API client: one transaction, one new session."""
    with audited(client):
        claims = tokens.decode(token, TokenKind.LOGIN)
        pair = _pair_at_once(claims, client, request)
        if pair is not None:
            return pair
        row = _row_of(claims, browser_verifier)
        with transaction.atomic():
            user = sign_in_row(row, client)
            return issue_pair(user, client=client, login_jti=row.jti, request=request)


def _pair_at_once(claims: dict[str, Any], client: Client, request: Any) -> Pair | None:
    """The common redemption (a link to an account, bound to no browser, redeemable
    now) with its writes in one statement, on PostgreSQL; None for anything else,
    which ``sign_in_pair`` then redeems or refuses as always, nothing written here.

    The link's conditional UPDATE proves the link and brings its user: no SELECT
    first. The checks of ``check_signed_in`` follow in the same transaction, whose
    rollback takes back the new session and audit rows if one fails.
    """
    if not statements.supported() or not claims.get("sub"):
        return None
    try:
        user_id = accounts.user_key(claims["sub"])
    except ValidationError:
        return None
    session = new_session(user_id, client=client, login_jti=claims["jti"])
    event = audit.build(Event.VERIFIED, client=client, jti=claims["jti"])
    event.user_id = user_id
    with transaction.atomic():
        redeemed = statements.redeem_link(claims["jti"], user_id, timezone.now(), [session, event])
        if redeemed is None:
            return None
        row, user = redeemed
        check_signed_in(row, user)
        session.user, event.user = user, user
        audit.announce(event, user=user)
        return issue_pair(user, client=client, login_jti=row.jti, request=request, session=session)


def sign_in_browser(request: HttpRequest, signed_in: SignIn, *, client: Client) -> None:
    """Log the browser in as the redeemed link's user (Django's ``login()``) and record
    its session, so that signing out everywhere ends it."""
    user = signed_in.user
    login(request, user, backend=_backend())
    age = app_settings.SESSION_AGE
    # set_expiry() makes the cookie persistent: a site whose sessions end with the
    # browser keeps that (the server side then lasts SESSION_COOKIE_AGE).
    if age and not settings.SESSION_EXPIRE_AT_BROWSER_CLOSE:
        request.session.set_expiry(age)
    start_session(
        user,
        client=client,
        login_jti=signed_in.jti,
        session_key=request.session.session_key or "",
        lifetime=timedelta(seconds=request.session.get_expiry_age()),
    )


def _backend() -> str:
    """The authentication backend to record in the session."""
    backends = getattr(settings, "AUTHENTICATION_BACKENDS", None)
    return str(backends[0]) if backends else "django.contrib.auth.backends.ModelBackend"


def _login_row(
    token: str, browser_verifier: str | None, *, check_browser: bool = True
) -> IssuedToken:
    return _row_of(tokens.decode(token, TokenKind.LOGIN), browser_verifier, check_browser)


def _row_of(
    claims: dict[str, Any], browser_verifier: str | None, check_browser: bool = True
) -> IssuedToken:
    row = unique(IssuedToken.objects.select_related("user").filter(jti=claims["jti"]))
    if row is None:
        raise about(TokenInvalid("unknown_jti"), jti=claims["jti"])
    if row.user_id is not None and claims.get("sub") != str(row.user_id):
        raise about(TokenInvalid("subject_mismatch"), row)
    # A bound link opened in another browser signs nobody in there: it shows
    # the code, to be typed in the browser that asked (no dead end).
    if check_browser and not same_browser(row, browser_verifier):
        raise about(_other_browser(row), row)
    return row


def same_browser(row: IssuedToken, browser_verifier: str | None) -> bool:
    """Unbound links work anywhere; a bound one only with its binding cookie."""
    return not row.browser_hash or signin_codes.matches(
        row.browser_hash, signin_codes.hash_verifier(browser_verifier or "")
    )


def _other_browser(row: IssuedToken) -> TokenError:
    """BrowserMismatch with the code to type in the right browser, but only for a
    link that could still be redeemed: a dead link's code is not worth showing."""
    error = refusal(row, timezone.now())
    if error is not None:
        return error
    return BrowserMismatch(signin_codes.format_code(signin_codes.derive_code(row.jti)))


def sign_in_row(row: IssuedToken, client: Client) -> Any:
    """Inside the caller's transaction: consume ``row``, check its user, record it."""
    _consume(row)
    user = row.user if row.user is not None else _create_user(row)
    check_signed_in(row, user)
    audit.record(Event.VERIFIED, client=client, jti=row.jti, user=user)
    return user


def check_signed_in(row: IssuedToken, user: Any) -> None:
    """Raise if the consumed link ``row`` may not sign ``user`` in after all."""
    if not getattr(user, "is_active", True):
        raise about(TokenInvalid("inactive_user"), row, user=user)
    # A link must not outlive an address change: it was mailed to the old one.
    if addresses.keyed_hash(email_of(user)) != row.email_hash:
        raise about(TokenInvalid("email_changed"), row, user=user)


def _consume(row: IssuedToken) -> None:
    """Mark ``row`` used with one conditional UPDATE whose row count decides: of two
    concurrent redemptions, exactly one sees 1. A link whose code was guessed wrong
    CODE_MAX_ATTEMPTS times is spent, even before its revoke lands."""
    now = timezone.now()
    consumed = IssuedToken.objects.filter(pk=row.pk).redeemable(now).update(used_at=now)
    if consumed != 1:
        row.refresh_from_db(fields=["used_at", "revoked_at", "expires_at", "code_attempts"])
        raise refusal(row, now) or about(TokenInvalid("not_consumed"), row)


def _create_user(row: IssuedToken) -> Any:
    """The account of a redeemed sign-up link (created only now, never on request); the
    link's row is given its user, so the admin shows whom it signed up."""
    user = get_adapter().create_user(row.signup_email)
    if user is None:
        raise about(TokenInvalid("signup_failed"), row)
    IssuedToken.objects.filter(pk=row.pk).update(user=user)
    row.user = user
    return user
