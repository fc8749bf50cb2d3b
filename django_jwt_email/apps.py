"""App configuration: ``ready()`` registers the system checks and signal receivers."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JWTEmailConfig(AppConfig):
    name = "django_jwt_email"
    verbose_name = _("Email sign-in (JWT)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401
