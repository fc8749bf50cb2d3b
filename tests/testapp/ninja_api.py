"""A django-ninja API guarded by JWTEmailBearer: sync and async operations."""

from django.contrib.auth import get_user_model
from ninja import NinjaAPI

from django_jwt_email.contrib.ninja import BearerError, JWTEmailBearer, bearer_error_response

api = NinjaAPI(urls_namespace="tests-ninja", auth=JWTEmailBearer())
api.add_exception_handler(BearerError, bearer_error_response)

#: The same API without the handler: ninja's own error bodies.
plain_api = NinjaAPI(urls_namespace="tests-ninja-plain", auth=JWTEmailBearer())


@api.get("/me")
def me(request):
    return {"id": request.user.pk, "email": request.user.email, "scope": request.auth["scope"]}


@api.get("/pk")
def pk_only(request):
    """Reads only the user's pk: no query."""
    return {"id": request.user.pk}


@api.get("/me/async")
async def me_async(request):
    user = await request.auser()
    return {"id": user.pk, "email": user.email}


@api.get("/pk/async")
async def pk_only_async(request):
    return {"id": request.user.pk, "sid": request.auth["sid"]}


@api.get("/users", auth=None)
def users(request):
    """Open to anyone: how many users (no authentication asked)."""
    return {"count": get_user_model().objects.count()}


@plain_api.get("/me")
def plain_me(request):
    return {"id": request.user.pk}
