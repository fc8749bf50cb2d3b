"""A small Django project serving django-jwt-email and its peers side by side.

One settings module, one URL map: the unauthenticated floor, this app's Bearer
view and simplejwt's, each the same DRF view with a different authentication
class, so every difference measured is the authentication's own.
"""
