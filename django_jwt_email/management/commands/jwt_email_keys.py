"""``jwt_email_keys generate`` prints a new signing key; ``jwt_email_keys jwks`` the JWKS.

The private key goes to stdout (or a 0600 file with ``--output``) and the
settings entry to stderr, so ``generate > key.pem`` saves the key alone.
"""

from __future__ import annotations

import json
import os
import secrets
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_jwt_email.exceptions import ConfigurationError
from django_jwt_email.keys import SUPPORTED_ALGORITHMS, generate_private_key, public_jwks


class Command(BaseCommand):
    help = "Generate a signing key, or print the public JWKS of the configured keys."
    # Runs before a key exists, when the checks would fail for want of one.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        generate = sub.add_parser(
            "generate", help="Print a new private key and its settings entry."
        )
        generate.add_argument("--algorithm", default="ES256", choices=sorted(SUPPORTED_ALGORITHMS))
        generate.add_argument("--kid", default=None, help="Key id (default: random).")
        generate.add_argument(
            "--output", default=None, help="Write the key to this file (mode 0600) instead."
        )
        sub.add_parser("jwks", help="Print the public JWKS of JWT_EMAIL_SIGNING_KEYS.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "jwks":
            try:
                self.stdout.write(json.dumps(public_jwks(), indent=2))
            except ConfigurationError as exc:
                raise CommandError(exc.detail) from None
            return
        algorithm = options["algorithm"]
        kid = options["kid"] or secrets.token_hex(4)
        key = generate_private_key(algorithm)
        output = options["output"]
        if output:
            path = Path(output)
            source = f"file:{self._write_private(path, key)}"
        else:
            self.stdout.write(key.rstrip("\n"))
            source = "file:/path/to/this-key.pem"
        entry = {"kid": kid, "algorithm": algorithm, "private_key": source}
        self.stderr.write(
            "\nAdd to settings (first entry signs; keep the key out of version control):\n"
            f"JWT_EMAIL_SIGNING_KEYS = [{entry!r}]"
        )

    def _write_private(self, path: Path, key: str) -> Path:
        """Create ``path`` readable by its owner only; never reuse an existing file,
        whose mode (perhaps world-readable) would be kept by O_TRUNC."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandError(f"{path} exists; not overwritten.") from None
        except OSError as exc:
            raise CommandError(f"Cannot create {path}: {exc.strerror}.") from None
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return path.resolve()
