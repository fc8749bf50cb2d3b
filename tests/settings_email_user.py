"""The suite's settings with an email-only user model: ``tests.emailuser.User``, whose
``USERNAME_FIELD`` is its email and which has no ``username`` at all (the most common
passwordless set-up).

    .venv/bin/python -m pytest --ds=tests.settings_email_user   # or: tox -e email-user

Tests about Django's own ``User`` skip themselves here, saying why (the
``default_user_model`` fixture); everything else must pass on both models.
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.emailuser"]
AUTH_USER_MODEL = "emailuser.User"
