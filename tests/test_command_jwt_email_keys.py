"""``jwt_email_keys``: generate a key (to stdout or a 0600 file) with its settings
entry, and print the public JWKS of the configured keys."""

from __future__ import annotations

import ast
import json
import os
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from django_jwt_email import tokens
from django_jwt_email.keys import load_keyring

KEY_DIR = Path(__file__).parent / "keys"


def run(*args: str, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("jwt_email_keys", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def settings_entry(stderr: str) -> list[dict]:
    """The ``JWT_EMAIL_SIGNING_KEYS = [...]`` line the command prints, as Python."""
    (line,) = [line for line in stderr.splitlines() if line.startswith("JWT_EMAIL_SIGNING_KEYS")]
    return ast.literal_eval(line.split("=", 1)[1].strip())


def test_generate_prints_a_key_that_loads_and_its_settings_entry():
    out, err = run("generate", "--algorithm", "ES256", "--kid", "k1")
    assert out.startswith("-----BEGIN PRIVATE KEY-----")
    assert out.rstrip().endswith("-----END PRIVATE KEY-----")
    (entry,) = settings_entry(err)
    assert entry["kid"] == "k1"
    assert entry["algorithm"] == "ES256"
    assert entry["private_key"].startswith("file:")
    # The key goes to stdout alone, so `generate > key.pem` saves just the key.
    assert "JWT_EMAIL_SIGNING_KEYS" not in out
    ring = load_keyring([{**entry, "private_key": out}])
    assert ring.signing_key.kid == "k1"


def test_generated_key_signs_tokens_the_app_verifies(settings, tmp_path):
    path = tmp_path / "signing.pem"
    _, err = run("generate", "--algorithm", "EdDSA", "--kid", "ed1", "--output", str(path))
    settings.JWT_EMAIL_SIGNING_KEYS = settings_entry(err)
    minted = tokens.mint(tokens.TokenKind.LOGIN, subject="1")
    assert tokens.decode(minted.token, tokens.TokenKind.LOGIN)["jti"] == minted.jti


# One of each family (test_keys.py generates every algorithm).
@pytest.mark.parametrize(
    "algorithm", ["ES256", "ES384", "ES512", "EdDSA", "RS256", "PS256", "HS512"]
)
def test_generate_each_algorithm(algorithm):
    out, err = run("generate", "--algorithm", algorithm, "--kid", "g")
    (entry,) = settings_entry(err)
    assert entry["algorithm"] == algorithm
    assert load_keyring([{**entry, "private_key": out.strip()}], allow_symmetric=True)


def test_generate_default_is_es256_with_a_random_kid():
    _, first = run("generate")
    _, second = run("generate")
    (one,), (two,) = settings_entry(first), settings_entry(second)
    assert one["algorithm"] == "ES256"
    assert len(one["kid"]) == 8
    assert one["kid"] != two["kid"]


def test_generate_refuses_an_unknown_algorithm():
    with pytest.raises(CommandError):
        run("generate", "--algorithm", "none")


def test_output_writes_an_owner_only_file(tmp_path):
    path = tmp_path / "jwt.pem"
    out, err = run("generate", "--kid", "k1", "--output", str(path))
    assert out == ""  # the key is in the file, not on the terminal
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    (entry,) = settings_entry(err)
    assert entry["private_key"] == f"file:{path.resolve()}"
    assert load_keyring([entry]).signing_key.kid == "k1"


def test_output_never_overwrites_an_existing_file(tmp_path):
    # O_TRUNC on an existing file would keep its mode, perhaps world-readable.
    path = tmp_path / "jwt.pem"
    path.write_text("keep me")
    os.chmod(path, 0o644)
    with pytest.raises(CommandError, match="exists"):
        run("generate", "--output", str(path))
    assert path.read_text() == "keep me"


def test_output_into_a_missing_directory_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot create"):
        run("generate", "--output", str(tmp_path / "no" / "such" / "dir.pem"))


def test_generate_works_without_any_key_configured(settings, capsys):
    # The command exists to make the first key, when the checks still fail for
    # want of one: it must not run them.
    settings.JWT_EMAIL_SIGNING_KEYS = []
    settings.JWT_EMAIL_LINK_BASE_URL = "not a url"
    assert "django_jwt_email.E001" in {message.id for message in run_checks()}
    # As `manage.py jwt_email_keys generate` runs it (call_command skips checks).
    ManagementUtility(["manage.py", "jwt_email_keys", "generate", "--kid", "first"]).execute()
    out, err = capsys.readouterr()
    assert "BEGIN PRIVATE KEY" in out
    assert settings_entry(err)[0]["kid"] == "first"


def test_jwks_prints_the_configured_public_keys(settings):
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "new", "algorithm": "EdDSA", "private_key": f"file:{KEY_DIR / 'ed25519.pem'}"},
        {"kid": "old", "algorithm": "ES256", "private_key": f"file:{KEY_DIR / 'es256.pem'}"},
    ]
    out, _ = run("jwks")
    jwks = json.loads(out)
    assert [key["kid"] for key in jwks["keys"]] == ["new", "old"]
    assert [key["alg"] for key in jwks["keys"]] == ["EdDSA", "ES256"]
    assert all("d" not in key for key in jwks["keys"])


def test_jwks_without_usable_keys_is_a_command_error(settings):
    settings.JWT_EMAIL_SIGNING_KEYS = []
    with pytest.raises(CommandError, match="JWT_EMAIL_SIGNING_KEYS"):
        run("jwks")
