"""The benchmark suite of django-jwt-email: ``make bench`` (see benchmarks/README.md)."""
