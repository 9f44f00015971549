"""The Nextflow adapter against flowtrail's shipped adapter contract, with real Nextflow.

The contract workflow (raw.txt -> STEP1 -> intermediate.txt -> STEP2 -> result.txt) runs through
``flowtrail.integrations.nextflow.run`` in a launch dir inside the instance. Nextflow writes each
output in its task's work dir and publishes it into the launch dir as a link (``mode: 'symlink'``,
Nextflow's default): the file the contract names is the work-dir file, one artifact.
"""

from __future__ import annotations

import pytest
from nfhelpers import FAST_JVM

import flowtrail as ft
from flowtrail.integrations.nextflow import run
from flowtrail.testing import AdapterContract, ContractWorkflow

pytestmark = pytest.mark.slow

PIPELINE = """\
process STEP1 {{
    publishDir '.', mode: 'symlink'
    input:
    path raw
    output:
    path '{intermediate}'
    script:
    "tr a-z A-Z < $raw > {intermediate}"
}}

process STEP2 {{
    publishDir '.', mode: 'symlink'
    input:
    path intermediate
    output:
    path '{result}'
    script:
    "{fail}wc -l < $intermediate > {result}"
}}

workflow {{
    STEP2(STEP1(Channel.fromPath('{raw}')))
}}
"""


class TestNextflowRegistryContract(AdapterContract):
    __test__ = True
    engine = "nextflow"
    task_type = "process"
    task_names = ("STEP1", "STEP2")

    @pytest.fixture
    def contract_instance(self, nextflow_ready: str, instance: ft.Instance) -> ft.Instance:
        self.instance = instance
        return instance

    def run_contract_workflow(self, workflow: ContractWorkflow) -> None:
        fail = "echo step2 failed >&2; exit 3; " if workflow.fail else ""
        text = PIPELINE.format(raw=workflow.raw, intermediate=workflow.intermediate, result=workflow.result, fail=fail)
        workflow.path("main.nf").write_text(text)
        result = run(
            "main.nf", [], launch_dir=workflow.folder, instance=self.instance, echo=False, env={"NXF_OPTS": FAST_JVM}
        )
        assert result.ok != workflow.fail, f"nextflow exited with {result.return_code}"
