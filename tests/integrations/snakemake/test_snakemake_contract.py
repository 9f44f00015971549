"""The Snakemake adapter against flowtrail's shipped contracts: the registry's and Snakemake's own.

:class:`TestSnakemakeRegistryContract` runs the contract workflow of :mod:`flowtrail.testing` with
real ``snakemake --logger flowtrail``; :class:`TestSnakemakeLoggerPluginContract` is the test base
snakemake-interface-logger-plugins ships for every logger plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from snakemake_helpers import Snakemake
from snakemake_interface_logger_plugins.tests import TestLogHandlerBase

import flowtrail as ft
from flowtrail.integrations.snakemake import LogHandler, LogHandlerSettings
from flowtrail.testing import AdapterContract, ContractWorkflow

SNAKEFILE = """
rule all:
    input: "{result}"

rule step1:
    input: "{raw}"
    output: "{intermediate}"
    shell: "tr a-z A-Z < {{input}} > {{output}}"

rule step2:
    input: "{intermediate}"
    output: "{result}"
    shell: "{fail}wc -l < {{input}} > {{output}}"
"""


class TestSnakemakeRegistryContract(AdapterContract):
    __test__ = True
    engine = "snakemake"
    task_type = "rule"

    @pytest.fixture
    def contract_instance(self, instance: ft.Instance, tmp_path: Path) -> ft.Instance:
        self.smk = Snakemake(instance.config.root, tmp_path / "openlineage.ndjson")
        return instance

    def run_contract_workflow(self, workflow: ContractWorkflow) -> None:
        fail = "echo step2 failed >&2; exit 3; " if workflow.fail else ""
        text = SNAKEFILE.format(raw=workflow.raw, intermediate=workflow.intermediate, result=workflow.result, fail=fail)
        self.smk.workflow(workflow.folder.name, {"Snakefile": text}, base=workflow.folder.parent)
        self.smk.run(workflow.folder, expect=1 if workflow.fail else 0)


class TestSnakemakeLoggerPluginContract(TestLogHandlerBase):
    """Snakemake's own checks of a logger plugin (instantiation, properties, emitting records)."""

    __test__ = True

    @pytest.fixture(autouse=True)
    def _record_in_process(self, instance: ft.Instance, monkeypatch: pytest.MonkeyPatch) -> Any:
        # No workflow starts here: the recorder is never needed; a thread is cheaper than a process.
        monkeypatch.setenv("FLOWTRAIL_SNAKEMAKE_IN_PROCESS", "1")
        self._handlers: list[LogHandler] = []
        yield
        for handler in self._handlers:
            handler.close()

    def get_log_handler_cls(self) -> type[LogHandler]:
        return LogHandler

    def get_log_handler_settings(self) -> LogHandlerSettings:
        return LogHandlerSettings()

    def _create_handler(self) -> Any:
        handler = super()._create_handler()
        self._handlers.append(handler)
        return handler
