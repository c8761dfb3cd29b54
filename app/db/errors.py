"""What a database error means, on either database: a lost race, a busy database, a broken reference."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError, OperationalError


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)


def describe(exc: BaseException) -> str:
    """What a log line may say of a database error: the driver's exception class and the SQLSTATE. Its
    message is left out: a constraint's message quotes the row's values (`Key (email)=(...)`)."""
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__} (SQLSTATE {_sqlstate(exc) or 'none'})"


def is_sqlite_busy(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def is_unique_violation(exc: BaseException) -> bool:
    unique = "UNIQUE constraint failed" in str(getattr(exc, "orig", ""))
    return isinstance(exc, IntegrityError) and (unique or _sqlstate(exc) == "23505")


def is_contention(exc: BaseException) -> bool:
    # Deadlock (40P01), serialization failure (40001) and lock timeouts (55P03) are transient.
    return _sqlstate(exc) in {"40P01", "40001", "55P03"}


def is_foreign_key_violation(exc: BaseException) -> bool:
    return isinstance(exc, IntegrityError) and (
        "FOREIGN KEY constraint failed" in str(exc.orig) or _sqlstate(exc) == "23503"
    )
