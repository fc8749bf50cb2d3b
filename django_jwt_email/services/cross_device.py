"""Sign-in by the short code of the same email, typed on another device.

An unknown address, a wrong code and a locked link take one path to one answer
(``CodeInvalid``), so neither the answer nor its time tells them apart.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import addresses, audit, signin_codes
from ..clientinfo import Client
from ..conf import app_settings
from ..exceptions import BrowserMismatch, CodeInvalid
from ..models import EventType as Event
from ..models import IssuedToken
from .refusals import about, audited
from .sessions import Pair, issue_pair
from .signin import SignIn, same_browser, sign_in_row

__all__ = [
    "code_pair",
    "redeem_code",
]


def redeem_code(
    email: str, code: str, *, client: Client, browser_verifier: str | None = None
) -> SignIn:
    """Consume the login link whose short code was typed, for a browser sign-in.

    An unknown address, a wrong code and a locked link all give CodeInvalid; the
    right code of a browser-bound link typed in another browser, BrowserMismatch.
    """
    row = _code_row(email, code, client, browser_verifier)
    with audited(client, as_code=True), transaction.atomic():
        return SignIn(sign_in_row(row, client), row.next_url, row.jti)


def code_pair(
    email: str,
    code: str,
    *,
    client: Client,
    browser_verifier: str | None = None,
    request: Any = None,
) -> Pair:
    """Redeem a short code for an API client (same answer as ``sign_in_pair``)."""
    row = _code_row(email, code, client, browser_verifier)
    with audited(client, as_code=True), transaction.atomic():
        user = sign_in_row(row, client)
        return issue_pair(user, client=client, login_jti=row.jti, request=request)


def _code_row(email: str, code: str, client: Client, browser_verifier: str | None) -> IssuedToken:
    """The outstanding login row of ``email`` whose code was typed.

    An unknown address, a wrong code and a locked link take one path (one SELECT,
    one UPDATE counting the wrong code, one audit row) to one answer, CodeInvalid,
    so neither the answer nor its time tells which it was.
    """
    typed = signin_codes.hash_code(code)
    cap = app_settings.CODE_MAX_ATTEMPTS
    # Links spent by wrong codes are still compared (and refused below), so that a
    # locked link takes the same path as a wrong code.
    outstanding = IssuedToken.objects.filter(
        email_hash=addresses.keyed_hash(email), used_at=None, revoked_at=None
    ).filter(expires_at__gt=timezone.now())
    match = None
    # Every outstanding link of the address is compared, in constant time and
    # without stopping at a match; a link at the cap matches nothing, even with
    # its right code (concurrent guesses may have counted it there).
    for row in outstanding.select_related("user"):
        right = signin_codes.matches(row.code_hash, typed)
        if right and row.code_attempts < cap:
            match = row
    if match is None:
        _count_wrong_code(outstanding, client)
        audit.record(Event.REJECTED, client=client, reason="wrong_code")
        raise CodeInvalid("wrong_code")
    if not same_browser(match, browser_verifier):
        # The right code, typed outside the browser a bound link was asked from:
        # not a guess, so not counted, and the one answer that differs, since
        # only who holds the code can get it. It still signs nobody in here.
        mismatch = BrowserMismatch(signin_codes.format_code(signin_codes.derive_code(match.jti)))
        mismatch.detail = _("This code was requested in another browser. Enter it there.")
        audit.record(
            Event.REJECTED, client=client, jti=match.jti, user=match.user, reason=mismatch.reason
        )
        raise about(mismatch, match)
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
            audit.record(Event.CODE_ATTEMPTS_EXCEEDED, client=client, jti=row.jti, user=row.user)
