"""Signal receivers: a user deactivated, deleted or given a new address is signed out.

Deactivating or deleting a user revokes their sessions at once (marked in the
revocation cache), which is what lets Bearer authentication skip the user SELECT.
A browser that signs out ends its session's row. A new email address ends every
session and pending link of the user, except the browser session that made the
change: a link or a session must not outlive the address it was proven with.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver

from . import services
from .clientinfo import current_session_key


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="jwt_email_user_saved")
def revoke_inactive_user(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if not raw and getattr(instance, "is_active", True) is False:
        services.logout_all(instance, reason="user_inactive")


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="jwt_email_user_deleted")
def revoke_deleted_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    services.logout_all(instance, reason="user_deleted")


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="jwt_email_email_changed")
def sign_out_on_email_change(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    field = sender.get_email_field_name()
    if raw or instance.pk is None or (update_fields is not None and field not in update_fields):
        return
    # One query by primary key, and only when the email field may be saved.
    stored = sender._default_manager.filter(pk=instance.pk).values_list(field, flat=True).first()
    if stored is None or stored == getattr(instance, field):
        return
    keep = current_session_key.get()
    # After the commit: a save that is rolled back changed nothing.
    transaction.on_commit(
        lambda: services.logout_all(instance, reason="email_changed", keep_session_key=keep)
    )


@receiver(user_logged_out, dispatch_uid="jwt_email_logged_out")
def end_browser_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        services.end_browser_session(session.session_key)


__all__: list[str] = []  # receivers only: connected when the app is ready
