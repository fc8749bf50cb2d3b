"""Admin sign-in by emailed link: the view the admin login page's form posts to.

It only asks ``services.request_link`` for a staff-only link and answers the same
for every address; the link is an ordinary login link, redeemed on the verify
page. Routed in ``urls.py`` as ``admin_request``, only with the admin installed.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from .. import services
from ..conf import app_settings
from ..exceptions import Unavailable
from ..http import bind_browser, client_of, no_store, safe_next, unavailable_page

__all__ = [
    "AdminRequestView",
]


class AdminRequestForm(forms.Form):
    email = forms.EmailField(max_length=254)
    next = forms.CharField(required=False, max_length=2000)


# With an email-only user model the button posts the login form itself (its
# "username" is the address), so a typed password may come along: never in a report.
@method_decorator(sensitive_post_parameters("password"), name="dispatch")
@method_decorator(csrf_protect, name="dispatch")
class AdminRequestView(View):
    """POST auth/admin/request/ (URL name ``django_jwt_email:admin_request``): email a
    staff user a sign-in link to the admin. The admin login page's form posts here.

    The answer is the same for every address; only an active staff account gets a
    link (``services.deliver`` decides, with ``staff_only``). The link is an ordinary
    login link: same token, lifetime, single use and audit, through the verify page.
    Rate limits: ``RateLimitMiddleware`` must count this URL name exactly as
    ``django_jwt_email:request`` (same ``request_ip`` and ``request_email`` buckets),
    so that it is no second budget for mail bombing.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not app_settings.ADMIN_LOGIN_LINK:  # opt-in: no staff links unless offered
            raise Http404
        data = request.POST.copy()
        # Else the login form's own field (an email-only user model). The rate limit
        # reads the address by the same rule (middleware.posted_email).
        data["email"] = data.get("email") or data.get("username", "")
        form = AdminRequestForm(data)
        admin_index = _admin_url("admin:index")
        requested = form.data.get("next", "")
        # A path on this site only (the verify page checks ``next`` again).
        local = requested.startswith("/") and safe_next(request, requested)
        next_url = requested if local else admin_index
        response = HttpResponseRedirect(
            f"{_admin_url('admin:login')}?{urlencode({'next': next_url})}"
        )
        if not form.is_valid():
            messages.error(request, _("Enter a valid email address."))
            return no_store(response)
        browser_hash = bind_browser(request, response) if app_settings.BIND_TO_BROWSER else ""
        try:
            services.request_link(
                form.cleaned_data["email"],
                next_url=next_url,
                client=client_of(request),
                browser_hash=browser_hash,
                staff_only=True,
            )
        except Unavailable as exc:
            # The queue is down. Nothing was looked up: the same page for every address.
            return unavailable_page(request, exc, back=response.url)
        messages.success(
            request,
            _(
                "If a staff account exists for this address, a sign-in link is on its "
                "way. Check your inbox."
            ),
        )
        return no_store(response)


def _admin_url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return "/"
