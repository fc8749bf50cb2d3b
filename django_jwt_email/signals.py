"""Signals sent by ``audit.record``; every receiver gets the same keyword arguments.

Arguments of every signal: ``sender`` (the ``TokenEvent`` model), ``event`` (the
``TokenEvent``, saved; unsaved for a refresh counted on its session's row, see
``JWT_EMAIL_AUDIT_EVERY_REFRESH``), ``user`` (a user or None), ``jti`` (str, may be empty),
``reason`` (str, may be empty), ``ip`` (str or None). A token is never passed.
"""

from django.dispatch import Signal

__all__ = [
    "refresh_reuse_detected",
    "token_issued",
    "token_refreshed",
    "token_rejected",
    "token_revoked",
    "token_verified",
]

#: A login link was minted and stored (refresh tokens show as ``refreshed``/``verified``).
token_issued = Signal()
#: A login link (or its code) was redeemed: a session or a token pair follows.
token_verified = Signal()
#: A token or code was refused; ``reason`` says why (expired, bad_signature, ...).
token_rejected = Signal()
#: A refresh token was rotated into a new pair of the same ``sid``.
token_refreshed = Signal()
#: A token, a session (``sid``) or all of a user's tokens were revoked.
token_revoked = Signal()
#: An already-used refresh token came back: its whole ``sid`` family was revoked.
refresh_reuse_detected = Signal()
