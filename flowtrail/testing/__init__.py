"""Test helpers shipped with flowtrail, for the authors of engine adapters.

:class:`~flowtrail.testing.adapter.AdapterContract` holds the registry contract every adapter meets
(tasks as transforms and runs, files as artifacts with their edges, failures, lineage) as pytest
tests an adapter's test class inherits. Importing this package needs pytest.
"""

from flowtrail.testing.adapter import AdapterContract, ContractWorkflow

__all__ = ["AdapterContract", "ContractWorkflow"]
