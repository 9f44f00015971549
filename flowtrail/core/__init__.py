"""The registry and lineage core. Internal: use the names re-exported by :mod:`flowtrail`."""
