"""Problem lines from pandera failure cases, and the :class:`ValidationError` that lists them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowtrail.core.curation.checks import DTYPE, INDEX_LABELS, LABELS, ColumnSpec, expected_dtype_text
from flowtrail.core.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from flowtrail.core.annotations.vocabulary import Vocabulary

MAX_SHOWN = 10


def _shown(values: list[Any]) -> str:
    text = ", ".join(repr(v) for v in values[:MAX_SHOWN])
    return text + (f" and {len(values) - MAX_SHOWN} more" if len(values) > MAX_SHOWN else "")


def _unique(values: Any) -> list[Any]:
    return list(dict.fromkeys(v for v in values if v is not None))


def label_problem(where: str, value: Any, vocabulary: Vocabulary) -> tuple[str, str]:
    """One line about a value that is not a canonical label name, and its kind (synonym/typo/unknown)."""
    what = f"a {vocabulary.type_name} label" if vocabulary.type_name else "a label"
    if not isinstance(value, str):
        return f"{where}: {value!r} is not {what} (labels are named by strings)", "unknown"
    found = vocabulary.match_id(value)
    if found is not None:
        entry = vocabulary.labels[found]
        name = entry[0]
        if value == entry[1]:
            relation = "the ontology id of"
        elif value.casefold() == name.casefold():
            relation = "a case variant of"
        else:
            relation = "a synonym of"
        return f"{where}: {value!r} is {relation} {name!r}: call .standardize()", "synonym"
    close = vocabulary.suggest(value)
    if close is not None:
        return f"{where}: {value!r} is not {what}; did you mean {close!r}?", "typo"
    return f"{where}: {value!r} is not {what}", "unknown"


def frame_problems(
    failures: pd.DataFrame | None, specs: list[ColumnSpec], frame: pd.DataFrame, prefix: str = ""
) -> tuple[list[str], set[str]]:
    """Problem lines for a DataFrame's failure cases, plus the kinds of problems found.

    ``prefix`` names where the frame sits (``"obs."`` for an AnnData's obs).
    """
    if failures is None or failures.empty:
        return [], set()
    by_name = {spec.name: spec for spec in specs}
    problems: list[str] = []
    kinds: set[str] = set()
    table = failures.astype(object).where(failures.notna(), None)
    missing = _unique(table.loc[table["check"] == "column_in_dataframe", "failure_case"])
    for name in missing:
        problems.append(f"{prefix}{name}: column is missing (the schema requires it)")
        kinds.add("missing")
    extra = _unique(table.loc[table["check"] == "column_in_schema", "failure_case"])
    if extra:
        problems.append(
            f"{prefix}unexpected column{'s' if len(extra) > 1 else ''} {_shown(extra)}: the schema allows "
            "only its own features (maximal_set=True)"
        )
        kinds.add("extra")
    if (table["check"] == "column_ordered").any():
        wanted = [s.name for s in specs if s.name in frame.columns]
        problems.append(f"{prefix}columns are out of order: the schema wants {', '.join(wanted)}")
        kinds.add("order")
    failed = set(_unique(table["column"]))
    columns = [spec.name for spec in specs if spec.name in failed]  # in schema order
    for column in columns:
        spec, rows = by_name[column], table[table["column"] == column]
        checks = set(rows["check"])
        coerce = [c for c in checks if str(c).startswith("coerce_dtype(")]
        if coerce:
            values = _unique(rows.loc[rows["check"].isin(coerce), "failure_case"])
            problems.append(f"{prefix}{column}: cannot convert {_shown(values)} to {spec.dtype}")
            kinds.add("dtype")
            continue
        if DTYPE in checks or any(str(c).startswith("dtype(") for c in checks):
            problems.append(
                f"{prefix}{column}: dtype {frame[column].dtype} does not fit feature dtype "
                f"{expected_dtype_text(spec.dtype)}"
            )
            kinds.add("dtype")
            continue
        if LABELS in checks and spec.vocabulary is not None:
            for value in _unique(rows.loc[rows["check"] == LABELS, "failure_case"]):
                line, kind = label_problem(f"{prefix}{column}", value, spec.vocabulary)
                problems.append(line)
                kinds.add(kind)
        for check in sorted(str(c) for c in checks - {LABELS, DTYPE}):
            values = _unique(rows.loc[rows["check"] == check, "failure_case"])
            problems.append(f"{prefix}{column}: check {check} failed for {_shown(values)}")
            kinds.add("other")
    return problems, kinds


def index_problems(failures: pd.DataFrame | None, where: str, vocabulary: Vocabulary) -> tuple[list[str], set[str]]:
    """Problem lines for index values (an AnnData's var names) not in an itype vocabulary."""
    if failures is None or failures.empty:
        return [], set()
    values = _unique(failures.loc[failures["check"] == INDEX_LABELS, "failure_case"])
    lines = [label_problem(where, value, vocabulary) for value in values]
    shown = [line for line, _ in lines[:MAX_SHOWN]]
    if len(lines) > MAX_SHOWN:
        shown.append(f"{where}: {len(lines) - MAX_SHOWN} more values are not {vocabulary.type_name} labels")
    return shown, {kind for _, kind in lines}


def fix_hint(kinds: set[str]) -> str:
    """The "fix: ..." line for the kinds of problems found."""
    hints = []
    if kinds & {"typo", "unknown"}:
        hints.append("correct typos, or create the missing labels with Label(name=..., type=...).save()")
    if "synonym" in kinds:
        hints.append("call .standardize() to replace synonyms, ontology ids and case variants by label names")
    if kinds & {"missing", "extra", "order"}:
        hints.append("add, drop or reorder columns to match the schema")
    if "dtype" in kinds:
        hints.append("convert columns to the features' dtypes (e.g. df[col].astype('Int64')) or use coerce_dtype=True")
    return "fix: " + "; ".join(hints) if hints else ""


def raise_problems(subject: str, problems: list[str], kinds: set[str]) -> None:
    """Raise one ValidationError listing every problem, if there are any."""
    if not problems:
        return
    count = len(problems)
    hint = fix_hint(kinds)
    message = f"{subject} does not fit its schema ({count} problem{'s' if count > 1 else ''}):\n" + "\n".join(
        f"  - {p}" for p in problems
    )
    raise ValidationError(message + (f"\n{hint}" if hint else ""), problems)
