"""The example site of django-jwt-email: settings, URLs and a few demo pages."""
