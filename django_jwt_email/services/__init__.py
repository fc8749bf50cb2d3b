"""The flows: request → issue → send → verify → sign in / pair → refresh → revoke.

This is the only place where tokens, models, the audit log and email meet
(which account an address names is the question of ``accounts``). Views, admin
actions, commands and tasks call these functions and nothing below them. Every
refusal is recorded through ``audit.record`` before it is raised.

Read in this order: ``signin`` (ask for a link, get it by email, open it),
``cross_device`` (the short code of the same email), ``sessions`` (the API's
access/refresh pair, refresh, Bearer checks, revocation), ``maintenance`` (rate
limit records, cleanup); ``steps`` holds what they share.
"""

from ..accounts import find_user
from .cross_device import code_pair, redeem_code
from .maintenance import cleanup_targets, delete_in_batches, record_rate_limited
from .sessions import (
    Pair,
    authenticate_access,
    issue_pair,
    logout_all,
    refresh,
    revoke_issued,
    revoke_session,
    revoke_sessions,
    revoke_token,
)
from .signin import (
    SignIn,
    check_login,
    deliver,
    deliver_now,
    issue_login,
    redeem_login,
    request_link,
    send_login,
    sign_in_pair,
)
from .steps import Client

__all__ = [
    "Client",
    "Pair",
    "SignIn",
    "authenticate_access",
    "check_login",
    "cleanup_targets",
    "code_pair",
    "delete_in_batches",
    "deliver",
    "deliver_now",
    "find_user",
    "issue_login",
    "issue_pair",
    "logout_all",
    "record_rate_limited",
    "redeem_code",
    "redeem_login",
    "refresh",
    "request_link",
    "revoke_issued",
    "revoke_session",
    "revoke_sessions",
    "revoke_token",
    "send_login",
    "sign_in_pair",
]
