"""clvsql: customer lifetime value and RFM segmentation as SQL functions.

Every function of clvsql for your own
``datafusion.SessionContext``: per-customer summaries from transactions, RFM
scores and segments, BG/NBD, Pareto/NBD and Gamma-Gamma fits, churn and CLV,
on the data the session already reads (Parquet, CSV, ``s3://``, pandas and
Polars DataFrames).

    >>> import datafusion, clvsql
    >>> ctx = datafusion.SessionContext()
    >>> clvsql.register(ctx)
    >>> ctx.sql("SELECT clv_simple(50, 4, 3) AS clv").to_pydict()
    {'clv': [600.0]}

The functions come through DataFusion's FFI, compiled in Rust: the same code
as the ``clvsql`` command line gives the same numbers. Each is also a Python
callable for the DataFrame API (``clvsql.rfm_summary(col("order_date"),
col("amount"), as_of=..., unit="week")``) whose ``help()`` is its reference.
"""

from __future__ import annotations

import functools
from typing import Any

import datafusion
import pyarrow as pa
from datafusion import Expr, SessionContext, lit, udaf, udf, udwf

from . import _clvsql

# The functions cross into datafusion-python through DataFusion's FFI, whose
# layout is that of datafusion-ffi 55.2, the one datafusion 55.0 was built
# with: another datafusion would read them wrongly.
if not datafusion.__version__.startswith("55.0."):
    msg = f"clvsql needs datafusion 55.0 (pip install 'datafusion==55.0.*'), found {datafusion.__version__}"
    raise ImportError(msg)

__all__ = ["Function", "functions", "positional_sql", "register"]


class Function:
    """One of clvsql's SQL functions, for the DataFrame API.

    Call it with ``datafusion.Expr`` arguments (other Python values become
    literals: numbers, strings, dates, and dicts as structs, so a model
    fitted by one query can score in the next) to get an ``Expr``. Keyword
    arguments are placed by parameter name as SQL's ``name => value`` is,
    skipped optional parameters taking their defaults. ``udf`` is the
    datafusion-python function object itself.
    """

    def __init__(self, native: _clvsql.Function) -> None:
        self._native = native
        self.name: str = native.name
        self.kind: str = native.kind
        self.section: str = native.section
        self.parameters: list[str] = native.parameters
        self.__name__ = native.name
        self.__qualname__ = native.name
        self.__doc__ = native.doc
        make = {"scalar": udf, "aggregate": udaf, "window": udwf}[native.kind]
        self.udf = make(native)

    def __call__(self, *args: Any, **kwargs: Any) -> Expr:
        """The function applied to ``args``, an ``Expr``."""
        values = [_expr(a) for a in args] + [_expr(v) for v in kwargs.values()]
        names: list[str | None] = [None] * len(args) + list(kwargs)
        slots = _clvsql.place(self.name, names)
        if slots is not None:
            values = [
                values[slot] if isinstance(slot, int) else lit(_number(slot))
                for slot in slots
            ]
        return self.udf(*values)

    def __repr__(self) -> str:
        return f"<clvsql {self.kind} function {self.name}({', '.join(self.parameters)})>"


def _expr(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, dict):
        return lit(pa.scalar(value))
    return lit(value)


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


_FUNCTIONS: dict[str, Function] = {f.name: Function(f) for f in _clvsql.functions()}
globals().update(_FUNCTIONS)
__all__ += list(_FUNCTIONS)


def functions() -> list[Function]:
    """Every one of clvsql's functions, in the order of its reference."""
    return list(_FUNCTIONS.values())


def positional_sql(query: str, dialect: str = "generic") -> str:
    """``query`` with the named arguments of clvsql's functions by position.

    DataFusion's FFI does not carry parameter names, so DataFusion cannot
    place ``rfm_summary(order_date, amount, unit => 'week', as_of => ...)``
    itself; ``register`` makes the session's ``sql`` do this first. The text
    comes back unchanged when it names no argument of clvsql's functions.
    """
    return _clvsql.positional_sql(query, dialect)


def register(ctx: SessionContext, dialect: str = "generic") -> None:
    """Registers every one of clvsql's functions with ``ctx``.

    ``ctx.sql`` (and ``sql_with_options``) of this context then also places
    the named arguments of clvsql's functions by position (see
    ``positional_sql``), skipped optional parameters filled in, as the
    ``clvsql`` command line does; ``dialect`` is the one the context parses
    with (``datafusion.sql_parser.dialect``). Queries with datafusion-python's
    ``{name}`` string substitutions are passed on as they are, and so are
    ``DataFrame.select_exprs`` and ``filter`` strings, which take positional
    arguments only.
    """
    register_as = {
        "scalar": ctx.register_udf,
        "aggregate": ctx.register_udaf,
        "window": ctx.register_udwf,
    }
    for function in _FUNCTIONS.values():
        register_as[function.kind](function.udf)
    sql = ctx.sql
    if getattr(sql, "_clvsql_places_named_arguments", False):
        return

    @functools.wraps(sql)
    def sql_placing_named_arguments(query: str, *args: Any, **kwargs: Any):
        return sql(positional_sql(query, dialect), *args, **kwargs)

    sql_placing_named_arguments._clvsql_places_named_arguments = True  # type: ignore[attr-defined]
    ctx.sql = sql_placing_named_arguments  # type: ignore[method-assign]
