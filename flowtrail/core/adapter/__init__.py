"""The door engine adapters and the OpenLineage consumer record through (see its modules)."""
