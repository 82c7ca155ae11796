"""Errors that leave an asset carry no patient-level value.

Dagster keeps a failed step's error message and traceback in its event log, which the UI (no
login) shows. omu's own failures (`dg.Failure`, refusals, the access log) are written to hold
counts and locations only; any other exception — a DuckDB or polars error can quote the value it
choked on — is replaced by a `dg.Failure` with its type and a message stripped of quoted text,
long tokens (a pseudonym) and dates, without the original chained to it.
"""

import functools
import inspect
import re

import dagster as dg

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_TOKEN = re.compile(r"\b(?=[\w-]*[A-Za-z])(?=[\w-]*\d)[\w-]{8,}\b")  # letters and digits, like a pseudonym
_DATE = re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{4}\b|\b\d{8}\b")
WITHHELD = "…"


def scrub(message: str) -> str:
    """The first line of an error message with every value that could be a patient's withheld."""
    first = (message.strip().splitlines() or [""])[0]
    for pattern in (_QUOTED, _DATE, _TOKEN):
        first = pattern.sub(WITHHELD, first)
    return first[:300]


def _withheld(function_name: str, error: BaseException) -> dg.Failure:
    return dg.Failure(
        description=f"{function_name} failed: {type(error).__name__}: {scrub(str(error))} "
        "(values in the message withheld; the store and the delivery report hold the details)"
    )


def values_withheld(function):
    """Decorate an asset's function (under @dg.asset): its unexpected errors reach Dagster scrubbed."""
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator(*args, **kwargs):
            try:
                yield from function(*args, **kwargs)
            except dg.Failure:
                raise
            except Exception as error:
                raise _withheld(function.__name__, error) from None

        return generator

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except dg.Failure:
            raise
        except Exception as error:
            raise _withheld(function.__name__, error) from None

    return wrapper
