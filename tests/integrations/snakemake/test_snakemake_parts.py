"""The adapter's parts without a snakemake run: payload snapshots, paths, sources, the recorder."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import OperationalError

import flowtrail as ft
from flowtrail.integrations.snakemake import (
    LogHandler,
    LogHandlerSettings,
    events,
    metadata,
    paths,
    sources,
)
from flowtrail.integrations.snakemake.recorder import Options, Recorder
from flowtrail.integrations.snakemake.workflow import (
    config_overrides,
    touches_only,
    workflow_key,
)


def record(**extra) -> logging.LogRecord:
    entry = logging.LogRecord("snakemake.logging", logging.INFO, __file__, 1, "message", None, None)
    entry.__dict__.update(extra)
    return entry


# -- payloads and paths ------------------------------------------------------------------------


class Namedlist(list):
    """Shaped like snakemake.io.Namedlist (Resources, Wildcards): a list with names."""

    def __init__(self, **named):
        super().__init__(named.values())
        self._names = {name: (i, None) for i, name in enumerate(named)}

    def items(self):
        return zip(self._names, self, strict=True)


def test_snapshot_copies_plain_values_and_stamps_job_info_with_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = ["a.txt"]
    event = events.snapshot(record(
        event="job_info", jobid=3, rule_name="count", input=inputs, output=["b.txt"],
        resources=Namedlist(_cores=1, mem_mb=10), wildcards={"sample": "a"}, shellcmd="wc -l",
    ))  # fmt: skip
    assert event is not None and event.kind == "job_info" and event.cwd == str(tmp_path)
    assert event.data["resources"] == {"_cores": 1, "mem_mb": 10}
    inputs.append("changed later")
    assert event.data["input"] == ["a.txt"]
    workflow_id = uuid.uuid4()
    started = events.snapshot(record(event="workflow_started", workflow_id=workflow_id))
    assert started is not None and started.data["workflow_id"] == str(workflow_id)
    assert events.snapshot(record(event="progress", done=1, total=2)) is None
    assert events.snapshot(record()) is None
    interrupt = events.snapshot(record(msg="Terminating processes on user request, this might take some time."))
    assert interrupt is not None and interrupt.kind == "interrupt"


def test_logged_file_names():
    assert paths.parse("out/a.txt") == paths.FileRef("out/a.txt", frozenset())
    pipe = paths.parse("fifo.txt (pipe)")
    assert pipe is not None and pipe.name == "fifo.txt" and pipe.is_stream
    remote = paths.parse("s3://bucket/key.csv (retrieve from storage)")
    assert remote is not None and remote.is_url and remote.name == "s3://bucket/key.csv"
    both = paths.parse("data/x.bam (update, send to storage)")
    assert both is not None and both.name == "data/x.bam" and both.labels == {"update", "send to storage"}
    assert paths.parse("reads.fq (access: sequential)").name == "reads.fq"
    assert paths.parse("report (final).txt").name == "report (final).txt"  # not an annotation
    assert paths.parse("<TBD>") is None and paths.parse("") is None
    assert [r.name for r in paths.parse_all(["a", "b (pipe)", "<TBD>", "c (service)", "d"])] == ["a", "d"]
    assert paths.parse("out/a.txt").location("/work/wf") == "/work/wf/out/a.txt"
    assert paths.parse("/abs/b.txt").location("/work/wf") == "/abs/b.txt"


def test_fifos_are_never_opened(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert paths.local_state(str(fifo)) is None
    assert paths.local_state(str(tmp_path / "missing")) is None
    (tmp_path / "f").write_text("abc")
    assert paths.local_state(str(tmp_path / "f"))[0] == 3


def test_rule_sources_includes_and_scripts(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "Snakefile").write_text(
        'include: "rules/more.smk"\n\nrule all:\n    input: "x"\n\n# a comment about the next rule\n'
        'rule first:\n    output: "x"\n    shell:\n        """\necho {output}\nrule fake:\n"""\n'
    )
    (tmp_path / "rules/more.smk").write_text(
        'checkpoint second:\n    output: "y"\n    script: "../scripts/s.py"\n\n'
        "rule third:\n    output: 'z'\n    run:\n        print(1)\n"
    )
    (tmp_path / "scripts/s.py").write_text("print('script')\n")
    source = sources.read_workflow(tmp_path / "Snakefile")
    assert sorted(source.rules) == ["all", "first", "second", "third"]
    assert (
        source.rule_code("first")
        == 'rule first:\n    output: "x"\n    shell:\n        """\necho {output}\nrule fake:\n"""\n'
    )
    assert source.rule_code("all") == 'rule all:\n    input: "x"\n'  # the comment belongs to what follows
    second = source.rule_code("second")
    assert (
        second.startswith("checkpoint second:\n") and "# ---- script: ../scripts/s.py ----\nprint('script')" in second
    )
    assert source.rule_code("third") == "rule third:\n    output: 'z'\n    run:\n        print(1)\n"
    assert source.rule_code("unknown") is None
    assert source.code.startswith('include: "rules/more.smk"') and "# ---- include: rules/more.smk ----" in source.code
    assert sources.read_workflow(tmp_path / "missing").code is None


def test_metadata_records_of_long_paths_are_split_like_snakemake_does(tmp_path):
    key = "deep/" * 60 + "file.txt"
    path = metadata.record_path(tmp_path / ".snakemake" / "metadata", key)
    assert all(len(part) <= 255 for part in path.relative_to(tmp_path).parts)
    path.parent.mkdir(parents=True)
    path.write_text('{"rule": "r", "params": ["1"], "incomplete": false}')
    assert metadata.read_record(tmp_path, key, "r") == {"rule": "r", "params": ["1"], "incomplete": False}
    assert metadata.read_record(tmp_path, key, "other") is None
    assert metadata.read_record(tmp_path, "nothing.txt") is None


def test_command_line_helpers(tmp_path):
    assert touches_only("snakemake -c2 --touch") and touches_only("snakemake -t -c1")
    assert not touches_only("snakemake -c2 --logger flowtrail --config t=1")
    assert config_overrides("snakemake --config a=1 b='x y' c=[1,2] -c2 target") == {"a": 1, "b": "x y", "c": [1, 2]}
    (tmp_path / "wf").mkdir()
    assert workflow_key(str(tmp_path / "wf/Snakefile"), str(tmp_path / "wf"), tmp_path) == "wf/Snakefile"
    assert workflow_key(str(tmp_path / "wf/Snakefile"), str(tmp_path / "wf"), None) == "wf/Snakefile"
    assert workflow_key(str(tmp_path / "wf/Snakefile"), str(tmp_path / "wf"), tmp_path / "wf") == "Snakefile"


# -- the logger plugin -----------------------------------------------------------------------------


def test_emit_never_raises(monkeypatch):
    handler = LogHandler(SimpleNamespace(dryrun=True, quiet=None), LogHandlerSettings())
    assert handler.channel is None  # a dry run records nothing
    handler.emit(record(event="job_info", jobid=1))

    class Exploding:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    class Channel:
        def __init__(self):
            self.events = []

        def put(self, event):
            self.events.append(event)

    handled = []
    monkeypatch.setattr(handler, "handleError", handled.append)
    handler.channel = Channel()
    bad = record(event="job_info", jobid=1, input=[Exploding()])
    handler.emit(bad)  # must not raise: an exception here would stop Snakemake's logging thread
    assert handled == [bad] and handler.channel.events == []
    handler.emit(record(event="job_finished", job_id=1))
    assert [e.kind for e in handler.channel.events] == ["job_finished"]
    assert not handler.writes_to_stream and not handler.writes_to_file and handler.has_filter


# -- the recorder, in this process -------------------------------------------------------------------


def feed(recorder: Recorder, workdir: Path, *items: tuple[str, dict]) -> None:
    for kind, data in items:
        recorder.handle(events.Event(kind, __import__("time").time(), data, cwd=str(workdir)))


@pytest.fixture
def workflow_dir(instance) -> Path:
    workdir = instance.config.root / "wf"
    workdir.mkdir()
    (workdir / "Snakefile").write_text('rule make:\n    output: "gone.txt"\n    shell: "true"\n')
    return workdir


def started(workdir: Path) -> tuple[str, dict]:
    return ("workflow_started", {
        "snakefile_main": str(workdir / "Snakefile"), "basedir": str(workdir), "cwd": str(workdir),
        "cmd": "snakemake -c1 --logger flowtrail", "workflow_id": str(uuid.uuid4()), "snakemake_version": "9.27.1",
    })  # fmt: skip


def test_outputs_that_are_already_gone_are_skipped(instance, workflow_dir):
    recorder = Recorder(Options(instance=str(instance.config.root)))
    job = {"jobid": 1, "rule_name": "make", "input": [], "output": ["gone.txt"], "log": ["logs/gone.log"]}
    feed(recorder, workflow_dir, started(workflow_dir), ("job_info", job), ("job_finished", {"job_id": 1}))
    use = {"jobid": 2, "rule_name": "use", "input": ["gone.txt"], "output": [], "log": []}
    feed(recorder, workflow_dir, ("job_info", use), ("job_finished", {"job_id": 2}))
    recorder.finish()
    assert not recorder.disabled
    workflow = ft.Run.get(transform__key="wf/Snakefile")
    assert workflow.status == "completed"
    make, use_run = workflow.children
    assert (make.status, make.outputs, use_run.status, use_run.inputs) == ("completed", [], "completed", [])


def test_a_registry_failing_mid_run_disables_recording_with_one_warning(instance, workflow_dir, monkeypatch, caplog):
    recorder = Recorder(Options(instance=str(instance.config.root)))
    (workflow_dir / "gone.txt").write_text("x")
    job = {"jobid": 1, "rule_name": "make", "input": [], "output": ["gone.txt"], "log": []}
    feed(recorder, workflow_dir, started(workflow_dir), ("job_info", job))

    def locked(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr("flowtrail.core.artifacts.save.save_artifacts", locked)
    with caplog.at_level(logging.WARNING, logger="flowtrail"):
        feed(recorder, workflow_dir, ("job_finished", {"job_id": 1}), ("job_info", {**job, "jobid": 2}))
        recorder.finish()
    assert recorder.disabled
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "the registry is not usable (OperationalError" in warnings[0]
    assert ft.Run.filter(transform__key="wf/Snakefile/make").count() == 1  # nothing after the failure


def test_a_batch_of_finished_jobs_is_registered_together(instance, workflow_dir):
    recorder = Recorder(Options(instance=str(instance.config.root)))
    feed(recorder, workflow_dir, started(workflow_dir))
    for i in (1, 2, 3):
        (workflow_dir / f"out{i}.txt").write_text(f"{i}\n")
        job = {"jobid": i, "rule_name": "make", "input": [], "output": [f"out{i}.txt"], "log": []}
        feed(recorder, workflow_dir, ("job_info", job))
    use = {"jobid": 4, "rule_name": "use", "input": ["out1.txt", "out2.txt"], "output": [], "log": []}
    now = __import__("time").time()
    batch = [events.Event("job_finished", now, {"job_id": i}) for i in (1, 2)]
    batch += [
        events.Event("job_info", now, use, cwd=str(workflow_dir)),
        events.Event("job_finished", now, {"job_id": 3}),
    ]
    recorder.handle_many(batch)
    recorder.finish()
    runs = {run.params["jobid"]: run for run in ft.Run.get(transform__key="wf/Snakefile").children}
    for i in (1, 2, 3):
        assert runs[i].status == "completed" and [a.key for a in runs[i].outputs] == [f"out{i}.txt"]
    assert sorted(a.key for a in runs[4].inputs) == ["out1.txt", "out2.txt"]
    assert runs[4].status == "aborted"  # never finished: Snakemake ended before its job_finished
