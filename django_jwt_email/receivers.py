"""Signal receivers: deactivating or deleting a user revokes their tokens.

This is what lets Bearer authentication skip the user SELECT: an inactive or
deleted user's sessions are marked revoked in the cache at once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from . import services


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="jwt_email_user_saved")
def revoke_inactive_user(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if not raw and getattr(instance, "is_active", True) is False:
        services.logout_all(instance, reason="user_inactive")


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="jwt_email_user_deleted")
def revoke_deleted_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    services.logout_all(instance, reason="user_deleted")
