"""Exceptions raised by flowtrail.

Every exception flowtrail raises on purpose derives from :class:`FlowtrailError`, and every
message says what was wrong and what to do next::

    FlowtrailError
    ├── ConfigurationError          the instance or its settings are missing or wrong
    │   ├── NoInstanceError         no .flowtrail/ folder, FLOWTRAIL_INSTANCE or FLOWTRAIL_DB_URL
    │   └── SchemaVersionError      the database schema is older or newer than this flowtrail
    ├── InvalidKey                  a key with '..', an absolute path, control characters, ...
    ├── StorageError                a file or object could not be read, written or found
    ├── UnsupportedFormat           .load() does not know how to read this suffix
    ├── DoesNotExist                a query for one record found none
    ├── MultipleResultsFound        a query for one record found several
    ├── FieldError                  a filter named a field or lookup that does not exist
    ├── IntegrityError              a write would break the registry's invariants
    ├── ValidationError             values or a dataset do not fit a feature, label type or schema
    ├── TrackingError               finish() without track(), or a run in the wrong state
    └── RegistryError               the registry database could not be read or written
        ├── RegistryUnavailable     refused, unreachable, connection lost, timed out
        ├── RegistryReadOnly        a read-only file, folder or database
        ├── RegistryFull            the disk holding the registry is full
        └── RegistryLocked          another writer held the lock past the bound
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DoesNotExist",
    "FieldError",
    "FlowtrailError",
    "IntegrityError",
    "InvalidKey",
    "MultipleResultsFound",
    "NoInstanceError",
    "RegistryError",
    "RegistryFull",
    "RegistryLocked",
    "RegistryReadOnly",
    "RegistryUnavailable",
    "SchemaVersionError",
    "StorageError",
    "TrackingError",
    "UnsupportedFormat",
    "ValidationError",
]


class FlowtrailError(Exception):
    """Base class of every error flowtrail raises on purpose."""


class ConfigurationError(FlowtrailError):
    """The instance configuration is missing, unreadable or inconsistent."""


class NoInstanceError(ConfigurationError):
    """No flowtrail instance could be found for this process."""


class SchemaVersionError(ConfigurationError):
    """The registry's schema does not match this version of flowtrail."""


class InvalidKey(FlowtrailError, ValueError):
    """A key is not a safe relative path."""


class StorageError(FlowtrailError):
    """A file or object could not be read, written or found."""


class UnsupportedFormat(FlowtrailError):
    """An artifact's format cannot be loaded into memory."""


class DoesNotExist(FlowtrailError, LookupError):
    """A query that should return one record returned none."""


class MultipleResultsFound(FlowtrailError, LookupError):
    """A query that should return one record returned several."""


class FieldError(FlowtrailError, AttributeError):
    """A filter, ordering or lookup named something the registry does not have."""


class IntegrityError(FlowtrailError):
    """A write would leave the registry inconsistent; nothing was written."""


class TrackingError(FlowtrailError):
    """Run tracking was used in the wrong order (e.g. finish() before track())."""


class RegistryError(FlowtrailError):
    """The registry database could not be read or written; the message names the cause."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached: refused, unreachable, connection lost or timed out."""


class RegistryReadOnly(RegistryError):
    """The registry (its file, folder or database) does not accept writes."""


class RegistryFull(RegistryError):
    """The disk holding the registry is full."""


class RegistryLocked(RegistryError):
    """Another writer held the registry's lock longer than flowtrail waits."""


class ValidationError(FlowtrailError, ValueError):
    """Values or a dataset do not fit their features, label types or schema; lists every problem.

    ``problems`` holds one human-readable line per problem, in the order they were found.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])
