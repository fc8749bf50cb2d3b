"""App configuration: ``ready()`` registers the system checks and signal receivers,
and the OpenAPI scheme of the Bearer authentication where drf-spectacular is."""

from importlib.util import find_spec

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JWTEmailConfig(AppConfig):
    name = "django_jwt_email"
    verbose_name = _("Email sign-in (JWT)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401

        if find_spec("drf_spectacular") is not None:
            # drf-spectacular finds an extension by its class being defined.
            from .contrib import spectacular  # noqa: F401
