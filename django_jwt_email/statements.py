"""Writes of a flow done in one SQL statement on PostgreSQL, built from the models.

A redemption for an API pair consumes the link, reads its user and writes the
new session's row and the audit row. Done one ORM call at a time, that is five
statements and as many round trips, most of the time spent compiling them. On
PostgreSQL, data-modifying CTEs do it in one statement: the link's conditional
UPDATE decides (of two concurrent redemptions exactly one sees its row), and the
INSERTs run only if it did. The SQL comes from the models' metadata, is compiled
once per process, and takes every value as a parameter; the condition of a
redeemable link is the one ``models.state_condition`` states (compiled from it).
No flow logic here: the services decide what to write and check what comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.db import connections, models
from django.dispatch import receiver

from .conf import app_settings
from .models import IssuedToken, state_condition

__all__ = ["redeem_link", "supported"]

# A time no real value equals: marks the parameters of the compiled condition that
# take the current time.
_NOW = datetime(2000, 1, 2, 3, 4, 5, 678901, tzinfo=dt_timezone.utc)
# The link's columns read back (the user's come after them).
LINK_FIELDS = {"id", "jti", "email_hash", "next_url", "user_id"}

# By (database alias, user model, models inserted): the SQL, the role of each of
# the redeemable condition's parameters, and the converters of the columns read back.
_compiled: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[str], list[Any]]] = {}


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("AUTH_USER_MODEL", "DATABASES"):
        _compiled.clear()


def supported(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def redeem_link(
    jti: str,
    user_id: Any,
    now: datetime,
    inserts: Sequence[models.Model],
    using: str = "default",
) -> tuple[IssuedToken, Any] | None:
    """In one statement: consume the link ``jti`` of ``user_id`` if it is redeemable
    now and bound to no browser, and only then insert ``inserts`` (their primary keys
    are set). Returns the link (the fields of ``LINK_FIELDS``) and its user, or None
    when no link was consumed, and then nothing was written. PostgreSQL only."""
    connection = connections[using]
    user_model = get_user_model()
    key = (using, user_model._meta.label, tuple(type(row)._meta.label for row in inserts))
    if key not in _compiled:
        _compiled[key] = _redeem_sql(connection, user_model, inserts)
    sql, roles, converters = _compiled[key]
    values = {"now": now, "cap": app_settings.CODE_MAX_ATTEMPTS}
    params: list[Any] = [now, jti, user_id, *(values[role] for role in roles)]
    for row in inserts:
        params += [value for _, value in _insert_values(row, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    if found is None:
        return None
    found = [
        _convert(value, column, connection)
        for value, column in zip(found, converters, strict=True)
    ]
    link_fields, user_fields = _link_fields(), user_model._meta.concrete_fields
    end = len(link_fields) + len(user_fields)
    # from_db takes values in the order of the model's fields, as they are read.
    link = IssuedToken.from_db(
        using, [field.attname for field in link_fields], found[: len(link_fields)]
    )
    user = user_model.from_db(
        using, [field.attname for field in user_fields], found[len(link_fields) : end]
    )
    for row, pk in zip(inserts, found[end:], strict=True):
        row.pk = pk
        row._state.adding = False
        row._state.db = using
    link.user = user
    return link, user


def _link_fields() -> list[Any]:
    return [field for field in IssuedToken._meta.concrete_fields if field.attname in LINK_FIELDS]


def _convert(value: Any, column: tuple[Any, list[Any]], connection: Any) -> Any:
    expression, converters = column
    for converter in converters:
        value = converter(value, expression, connection)
    return value


def _redeem_sql(
    connection: Any, user_model: Any, inserts: Sequence[models.Model]
) -> tuple[str, list[str], list[Any]]:
    """The statement of ``redeem_link``, the roles of the redeemable condition's
    parameters, and (column, converters) of each value it reads back."""
    quote = connection.ops.quote_name
    links = quote(IssuedToken._meta.db_table)
    link_fields, user_fields = _link_fields(), list(user_model._meta.concrete_fields)

    by_name = {field.name: field for field in IssuedToken._meta.concrete_fields}

    def column(name: str) -> str:
        return quote(by_name[name].column)

    redeemable, roles = _redeemable_where(connection)
    # Identifiers come from the models' metadata, quoted; every value is a parameter.
    ctes = [
        f"consumed AS (UPDATE {links} SET {column('used_at')} = %s "  # noqa: S608
        f"WHERE {links}.{column('jti')} = %s AND {links}.{column('user')} = %s "
        f"AND {links}.{column('browser_hash')} = '' AND {redeemable} "
        f"RETURNING {', '.join(f'{links}.{quote(field.column)}' for field in link_fields)})"
    ]
    read = [f"c.{quote(field.column)}" for field in link_fields]
    read += [f"u.{quote(field.column)}" for field in user_fields]
    joins = [f"JOIN {quote(user_model._meta.db_table)} u ON "]
    joins[0] += f"u.{quote(user_model._meta.pk.column)} = c.{column('user')}"
    for number, row in enumerate(inserts):
        meta, name = type(row)._meta, f"inserted_{number}"
        fields = [field for field, _ in _insert_values(row, connection)]
        # Typed, since a parameter in a SELECT list has no column to take a type from.
        casts = ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in fields)
        ctes.append(
            f"{name} AS (INSERT INTO {quote(meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(field.column) for field in fields)}) "
            f"SELECT {casts} FROM consumed RETURNING {quote(meta.pk.column)})"
        )
        read.append(f"{name}.{quote(meta.pk.column)}")
        joins.append(f"CROSS JOIN {name}")
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(read)} FROM consumed c {' '.join(joins)}"  # noqa: S608
    # The converters the ORM applies to what it reads (none for the inserted keys).
    columns = [field.get_col(field.model._meta.db_table) for field in link_fields + user_fields]
    converters = [(col, col.get_db_converters(connection)) for col in columns]
    converters += [(None, [])] * len(inserts)
    return sql, roles, converters


def _redeemable_where(connection: Any) -> tuple[str, list[str]]:
    """``state_condition("active")`` on the links' table, as SQL, and the role of each
    of its parameters ("now" or "cap"): the one definition of a redeemable link."""
    query = IssuedToken.objects.filter(state_condition("active", _NOW)).query
    sql, params = query.get_compiler(connection=connection).compile(query.where)
    roles = []
    for param in params:
        if param == _NOW:
            roles.append("now")
        elif param == app_settings.CODE_MAX_ATTEMPTS:
            roles.append("cap")
        else:  # a condition this module does not know how to fill in
            raise ValueError(f"unexpected parameter {param!r} in {sql}")
    return sql, roles


def _insert_values(row: models.Model, connection: Any) -> list[tuple[Any, Any]]:
    """(field, database value) of each column ``row`` inserts, as Django's INSERT has them."""
    meta = type(row)._meta
    return [
        (field, field.get_db_prep_save(field.pre_save(row, True), connection))
        for field in meta.concrete_fields
        if not field.primary_key
    ]
