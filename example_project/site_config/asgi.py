"""ASGI entry point: ``uvicorn --app-dir example_project site_config.asgi:application``.

Every middleware of the site runs in async mode (Django's own and the app's
RateLimitMiddleware), so no request is adapted through a thread for them; the
DRF views run in Django's thread for sync code, the ninja API's async operation
on the event loop.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings")

application = get_asgi_application()
