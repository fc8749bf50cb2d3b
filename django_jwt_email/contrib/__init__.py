"""Integrations with optional third-party packages, each importable only with its
package installed (``pip install django-jwt-email[ninja]``)."""
