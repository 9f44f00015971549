"""OpenLineage emission: every run's start, completion and failure as a ``RunEvent``.

Events go out through the official ``openlineage-python`` client, configured the client's own way
(``openlineage.yml``, ``OPENLINEAGE_URL``, ``OPENLINEAGE__TRANSPORT__*``, ``OPENLINEAGE_DISABLED``).
Nothing configured means nothing is imported, built or sent.
"""
