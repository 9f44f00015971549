"""OpenLineage in: the consumer (`flowtrail ingest`, `flowtrail serve`) and its Marquez-compatible read API."""
