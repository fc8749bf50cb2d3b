"""The pytest plugin (``django_jwt_email.pytest_plugin``), loaded for real: each test
writes a small site of its own and runs pytest on it in a new process, where the
plugin arrives through the package's ``pytest11`` entry point, as in a site's
virtualenv. No conftest of that site declares the fixtures."""

import re

import pytest

from tests.conftest import ROOT

SETTINGS = """
SECRET_KEY = "site-tests-only-" + "x" * 40
USE_TZ = True
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "django_jwt_email",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_jwt_email.middleware.RateLimitMiddleware",
]
ROOT_URLCONF = "mysite.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_REDIRECT_URL = "/me/"
JWT_EMAIL_LINK_BASE_URL = "https://mysite.example"
"""

URLS = """
from django.http import HttpResponse
from django.urls import include, path
from rest_framework.decorators import api_view, authentication_classes
from rest_framework.response import Response

from django_jwt_email.authentication import JWTEmailAuthentication


@api_view(["GET"])
@authentication_classes([JWTEmailAuthentication])
def api_me(request):
    return Response({"id": request.user.pk, "email": request.user.email})


urlpatterns = [
    path("auth/", include("django_jwt_email.urls")),
    path("api/me/", api_me),
    path("me/", lambda request: HttpResponse(f"signed in as {request.user.email}")),
]
"""


def readme_example(first_line):
    """The Python block of the documentation's "Test your site" that opens with
    ``first_line``: the examples there run as a site's own tests here."""
    page = (ROOT / "docs" / "howto" / "testing.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    (block,) = [block for block in blocks if block.startswith(first_line + "\n")]
    return block


# The site's tests, written with the fixtures.
TESTS = """
import pytest
from urllib.parse import urlsplit


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com")


def test_link_signs_the_browser_in(client, user, jwt_email_login_link):
    link = urlsplit(jwt_email_login_link(user, next_url="/me/?from=link"))
    assert link.netloc == "mysite.example"
    token = link.query.removeprefix("token=")
    assert client.get(link.path, {"token": token}).status_code == 200
    response = client.post(link.path, {"token": token})
    assert response["Location"] == "/me/?from=link"
    assert client.get("/me/").content == b"signed in as alice@example.com"


def test_bearer_authenticates(client, user, jwt_email_bearer):
    assert client.get("/api/me/", **jwt_email_bearer(user)).json()["email"] == user.email


def test_token_pair_refreshes(client, user, jwt_email_token_pair):
    pair = jwt_email_token_pair(user)
    rotated = client.post(
        "/auth/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json"
    )
    assert rotated.status_code == 200
    assert rotated.json().keys() == pair.keys()


def test_outbox_gives_the_code(client, user, jwt_email_outbox):
    client.post("/auth/request/", {"email": "Alice@example.com"}, content_type="application/json")
    email = jwt_email_outbox(to="alice@example.com")
    assert email.link.startswith("https://mysite.example/auth/verify/?token=")
    answered = client.post(
        "/auth/code/",
        {"email": "alice@example.com", "code": email.code},
        content_type="application/json",
    )
    assert answered.status_code == 200
"""


@pytest.fixture
def site(pytester, monkeypatch):
    """A site's checkout, whose tests run on its own settings in a new process."""
    # pytest-django put the suite's own settings in the environment, which the
    # inner run would inherit: the site names its own.
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.mkpydir("mysite")
    pytester.makepyfile(**{"mysite/urls": URLS})
    return pytester


def test_the_fixtures_run_a_sites_tests_with_throwaway_keys(site):
    """Settings without a signing key: the ``jwt_email_keys`` fixture (autouse in the
    documented conftest) or ``throwaway_keys()`` (the documented TestCase) gives one."""
    site.makepyfile(**{"mysite/settings": SETTINGS})
    site.makeconftest(readme_example("# conftest.py: every test of the site gets throw-away keys"))
    site.makepyfile(
        test_site=TESTS,
        test_api=readme_example("# tests/test_api.py"),
        test_account=readme_example("# tests/test_account.py, with Django's test runner"),
    )
    result = site.runpytest_subprocess("--ds=mysite.settings", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=9)


def test_test_settings_may_hold_the_throwaway_keys(site):
    """A settings module imports ``testing`` before Django is set up; no fixture then."""
    site.makepyfile(
        **{
            "mysite/settings": SETTINGS,
            "mysite/settings_test": readme_example("# mysite/settings_test.py"),
        }
    )
    site.makepyfile(test_site=TESTS)
    result = site.runpytest_subprocess("--ds=mysite.settings_test", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_the_plugin_loads_with_no_django_settings_at_all(site):
    """Loading the plugin configures and imports nothing of Django or the app: a
    project whose tests have no Django settings runs as before."""
    site.makepyfile(
        test_plain="""
        import sys

        from django.conf import settings


        def test_plugin_loaded_and_nothing_configured():
            assert "django_jwt_email.pytest_plugin" in sys.modules
            assert not settings.configured
            assert "django_jwt_email.models" not in sys.modules
            assert "django_jwt_email.testing" not in sys.modules
        """
    )
    result = site.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    listed = site.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    for name in ("keys", "login_link", "token_pair", "bearer", "outbox"):
        listed.stdout.fnmatch_lines([f"jwt_email_{name} -- *django_jwt_email*pytest_plugin.py*"])


def test_the_plugin_can_be_turned_off_by_its_name(site):
    site.makepyfile(
        test_plain="""
        import sys

        import pytest


        def test_no_fixture(request):
            assert "django_jwt_email.pytest_plugin" not in sys.modules
            with pytest.raises(pytest.FixtureLookupError):
                request.getfixturevalue("jwt_email_bearer")
        """
    )
    result = site.runpytest_subprocess("-p", "no:django_jwt_email", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
