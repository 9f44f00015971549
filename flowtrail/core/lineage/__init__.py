"""Lineage graphs: closures in SQL, their records, layout and pictures."""
