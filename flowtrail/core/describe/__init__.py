"""Rich trees for ``describe()`` and the command line."""
