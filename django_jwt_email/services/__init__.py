"""The flows: request → issue → send → verify → sign in / pair → refresh → revoke.

This is the only place where tokens, models, the audit log and email meet; every
decision a site may change is asked of the adapter (``adapter.get_adapter()``).
Views, admin actions, commands and tasks call these functions and nothing below
them. Every refusal is recorded through ``audit.record`` before it is raised.

Read in this order: ``signin`` (ask for a link, get it by email, open it),
``cross_device`` (the short code of the same email), ``sessions`` (sign-in
sessions: the API's pair, refresh, Bearer checks, revocation, browser sessions),
``maintenance`` (rate limit records, cleanup); ``refusals`` holds what they share
about refused tokens.
"""

from .cross_device import code_pair, redeem_code
from .maintenance import cleanup_targets, delete_in_batches, record_rate_limited
from .sessions import (
    Pair,
    authenticate_access,
    end_browser_session,
    issue_pair,
    logout_all,
    refresh,
    revoke_issued,
    revoke_session,
    revoke_sessions,
    revoke_token,
    start_session,
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
    sign_in_browser,
    sign_in_pair,
)

__all__ = [
    "Pair",
    "SignIn",
    "authenticate_access",
    "check_login",
    "cleanup_targets",
    "code_pair",
    "delete_in_batches",
    "deliver",
    "deliver_now",
    "end_browser_session",
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
    "sign_in_browser",
    "sign_in_pair",
    "start_session",
]
