"""The readers of work dirs, traces, logs, lineage stores and pipeline scripts, on their own.

The wrappers and records here reproduce what Nextflow writes (25.04 as installed for the tests,
and the newer forms the adapter must also accept: ``ln -sfn`` staging from 26.07, the ``spec``
envelope of lineage records from 25.07); the tests with a real Nextflow cover the rest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flowtrail.integrations.nextflow.lineage_store import LineageStore, path_values, unwrap
from flowtrail.integrations.nextflow.log import LogReader, first_error
from flowtrail.integrations.nextflow.pipeline import ProcessSources, cli_params, identify, process_definitions
from flowtrail.integrations.nextflow.runner import rewrite_command, rotate_log, split_args
from flowtrail.integrations.nextflow.trace import TraceReader, parse_value
from flowtrail.integrations.nextflow.workdir import WorkDir, glob_regex, match_outputs, parse_header, parse_staging

WRAPPER = """\
#!/bin/bash
### ---
### name: 'ALIGN (sample 1)'
### container: 'quay.io/biocontainers/bwa:0.7'
### outputs:
### - '*.bam'
### - 'it's.txt'
### - 'qc/'
### ...
set -e
nxf_stage() {
    true
    # stage input files
    rm -f reads\\ 1.fq
    ln -s /data/raw\\ reads/reads\\ 1.fq reads\\ 1.fq
    mkdir -p ref && ln -s /work/ab/cdef0123456789abcdef0123456789/genome.fa ref/genome.fa
    ln -sfn /data/new/style.txt style.txt
    mkdir -p sub/dir && ln -s ../../../../../in\\ dir/my\\ file.txt sub/dir/my\\ file.txt
    ln -f /data/hard.txt hard.txt
    cp -fRL /data/copied.txt copied.txt
    downloads+=("nxf_s3_download s3://bucket/work/12/3456/x.vcf x.vcf")
}

nxf_unstage_outputs() {
    true
}
"""


def test_the_wrapper_header_gives_name_container_and_output_patterns() -> None:
    header = parse_header(WRAPPER)
    assert header.name == "ALIGN (sample 1)"
    assert header.container == "quay.io/biocontainers/bwa:0.7"
    assert header.outputs == ["*.bam", "it's.txt", "qc/"]  # quotes inside are not escaped by Nextflow


def test_every_staging_form_resolves_to_its_source() -> None:
    workdir = "/scratch/work/aa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    staged = {s.name: (s.source, s.mode) for s in parse_staging(WRAPPER, workdir)}
    assert staged == {
        "reads 1.fq": ("/data/raw reads/reads 1.fq", "symlink"),
        "ref/genome.fa": ("/work/ab/cdef0123456789abcdef0123456789/genome.fa", "symlink"),
        "style.txt": ("/data/new/style.txt", "symlink"),  # ln -sfn (Nextflow >= 26.07)
        # rellink: relative to the folder holding the link, i.e. <workdir>/sub/dir
        "sub/dir/my file.txt": ("/scratch/in dir/my file.txt", "rellink"),
        "hard.txt": ("/data/hard.txt", "link"),
        "copied.txt": ("/data/copied.txt", "copy"),
        "x.vcf": ("s3://bucket/work/12/3456/x.vcf", "download"),
    }


def test_staging_moved_to_command_stage_is_followed(tmp_path: Path) -> None:
    wrapper = "nxf_stage() {\n    true\n    # stage input files\n    bash .command.stage\n}\n"
    (tmp_path / ".command.run").write_text(wrapper)
    (tmp_path / ".command.stage").write_text("rm -f a.txt\nln -s /data/a.txt a.txt\nln -s /data/b.txt b.txt\n")
    assert [(s.name, s.source) for s in WorkDir(str(tmp_path)).staged] == [
        ("a.txt", "/data/a.txt"),
        ("b.txt", "/data/b.txt"),
    ]


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("*.txt", ["a.txt", "b c.txt"], ["d/a.txt", "a.txt.gz"]),
        ("**/*.csv", ["q/r/x.csv", "q/x.csv"], ["x.csv"]),  # Java's glob: ** then / needs a folder
        ("{a,b}_?.fq", ["a_1.fq", "b_2.fq"], ["c_1.fq", "a_12.fq"]),
        ("[!x]*.bam", ["y.bam"], ["x.bam"]),
    ],
)
def test_output_globs_follow_java_glob_syntax(pattern: str, matches: list[str], misses: list[str]) -> None:
    regex = glob_regex(pattern)
    assert all(regex.match(m) for m in matches), [m for m in matches if not regex.match(m)]
    assert not any(regex.match(m) for m in misses), [m for m in misses if regex.match(m)]


def test_declared_outputs_skip_scratch_hidden_inputs_and_wrapper_files(tmp_path: Path) -> None:
    for name in ("a.bam", "b.bam", ".hidden.bam", "scratch.tmp", ".command.sh", ".exitcode", "qc/x.html",
                 "qc/y.html", "in.bam", "deep/z.bam", "it's.txt"):  # fmt: skip
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    found = match_outputs(str(tmp_path), ["*.bam", "qc/", "it's.txt", "missing.txt"], staged_names=["in.bam"])
    assert found == ["a.bam", "b.bam", "it's.txt", "qc"]
    assert match_outputs(str(tmp_path), [".*.bam"]) == [".hidden.bam"]
    assert match_outputs(str(tmp_path), ["qc/*.html", "qc"]) == ["qc"]  # files inside a matched folder are the folder


def test_exit_code_and_stderr_tail(tmp_path: Path) -> None:
    (tmp_path / ".exitcode").write_text("137\n")
    (tmp_path / ".command.err").write_text("noise\n" * 100_000 + "killed: out of memory\n")
    workdir = WorkDir(str(tmp_path))
    assert workdir.exit_code() == 137
    assert workdir.stderr_tail(lines=2) == "noise\nkilled: out of memory"
    assert WorkDir("/work/ab/cdef0123456789abcdef0123456789").full_hash == "abcdef0123456789abcdef0123456789"
    assert WorkDir(str(tmp_path)).full_hash is None


def test_trace_values_raw_and_formatted() -> None:
    assert parse_value("duration", "1m 3s") == 63_000
    assert parse_value("duration", "1h 2m") == 3_720_000
    assert parse_value("realtime", "250ms") == 250
    assert parse_value("realtime", "1234") == 1234
    assert parse_value("peak_rss", "1.5 MB") == 1_572_864
    assert parse_value("peak_rss", "2048") == 2048
    assert parse_value("%cpu", "98.5%") == 98.5
    assert parse_value("exit", "-") is None
    assert parse_value("start", "1795329112541").isoformat() == "2026-11-22T06:31:52.541000+00:00"
    assert parse_value("submit", "2024-01-02 10:11:12.345").year == 2024


def test_the_trace_is_read_incrementally(tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text("task_id\thash\tname\tstatus\n1\tab/cdef12\tA (1)\tCOMPLETED\n2\tcd/")
    reader = TraceReader(str(trace))
    first = reader.read()
    assert [(r.short_hash, r.process, r.status) for r in first] == [("ab/cdef12", "A", "COMPLETED")]
    with open(trace, "a") as handle:
        handle.write("ef3456\tB\tFAILED\n")
    assert [(r.short_hash, r.status) for r in reader.read()] == [("cd/ef3456", "FAILED")]
    assert reader.read() == []


def test_log_messages_with_continuation_lines_and_partial_writes(tmp_path: Path) -> None:
    log = tmp_path / ".nextflow.log"
    log.write_text(
        "Nov-22 06:29:47.446 [main] DEBUG nextflow.script.ScriptRunner - Parsed script files:\n"
        "  Script_fb5289503ad9ef27: /p/main.nf\n"
        "  Script_0123456789abcdef: /p/modules/align.nf\n"
        "Nov-22 06:29:47.617 [Task submitter] INFO  nextflow.Session - [4c/a0e1d5] Submitted process > SPLIT (b)\n"
        "Nov-22 06:29:47.900 [PublishDir-1] TRACE nextflow.processor.PublishDir - publishing file: /w/4c/a0/x y.txt -[COPY]-> /r/x y.txt\n"
        "Nov-22 06:29:48.0"
    )
    reader = LogReader(str(log), year=2026)
    events = reader.read()
    assert [e.kind for e in events] == ["scripts", "submitted"]  # the publish line may still continue
    assert events[0].data["paths"] == ["/p/main.nf", "/p/modules/align.nf"]
    with open(log, "a") as handle:
        handle.write("00 [TaskFinalizer-1] ERROR nextflow.processor.TaskProcessor - Error executing process > 'A'\n\n"
                     "Caused by:\n  boom\n\nCommand executed:\n\n  false\n")  # fmt: skip
    events = reader.read(final=True)
    assert [e.kind for e in events] == ["publish", "error"]
    assert events[0].data == {"src": "/w/4c/a0/x y.txt", "dst": "/r/x y.txt", "mode": "COPY"}
    assert first_error(events) == "Error executing process > 'A'\n\nCaused by:\n  boom"


def _record(kind: str, fields: dict, *, envelope: bool) -> str:
    if envelope:  # Nextflow 25.07.0-edge and later
        return json.dumps({"version": "lineage/v1beta1", "kind": kind, "spec": fields})
    return json.dumps({"version": "lineage/v1beta1", "kind": kind, **fields})  # 25.04


@pytest.mark.parametrize("envelope", [False, True], ids=["flat-25.04", "spec-25.07"])
def test_lineage_records_flat_and_in_a_spec_envelope(tmp_path: Path, envelope: bool) -> None:
    store = tmp_path / ".lineage"
    task, upstream = "1" * 32, "2" * 32
    records = {
        task: _record("TaskRun", {"sessionId": "s", "name": "B (1)", "input": [
            {"type": "val", "name": "sample", "value": "a"},
            {"type": "path", "name": "reads", "value": [f"lid://{upstream}/a.txt",
                                                        {"path": "file:///data/raw.txt", "checksum": {}}]},
        ]}, envelope=envelope),
        f"{task}#output": _record("TaskOutput", {"taskRun": f"lid://{task}", "output": [
            {"type": "path", "name": None, "value": [f"lid://{task}/out.txt"]},
            {"type": "val", "name": "n", "value": 3},
        ]}, envelope=envelope),
        f"{task}/out.txt": _record("FileOutput", {"path": "/work/11/out.txt", "source": f"lid://{task}"}, envelope=envelope),
    }  # fmt: skip
    for key, text in records.items():
        (store / key).mkdir(parents=True)
        (store / key / ".data.json").write_text(text)
    lineage = LineageStore(str(store))
    paths, values = lineage.task_inputs(task)
    assert values == {"sample": "a"}
    assert [(p.lid, p.path) for p in paths] == [(f"{upstream}/a.txt", None), (None, "/data/raw.txt")]
    assert [p.lid for p in lineage.task_outputs(task)] == [f"{task}/out.txt"]
    assert lineage.file_path(f"{task}/out.txt") == "/work/11/out.txt"
    assert lineage.task_inputs("3" * 32) is None
    assert unwrap(json.loads(records[task]))["name"] == "B (1)"


def test_path_values_walk_nested_parameters() -> None:
    value = [["lid://a/x", {"path": "s3://b/k.txt"}], {"nested": "file:///tmp/f"}, "not a path", 3]
    assert [(p.lid, p.path) for p in path_values(value)] == [("a/x", None), (None, "s3://b/k.txt"), (None, "/tmp/f")]


def test_process_definitions_skip_braces_in_strings_and_comments(tmp_path: Path) -> None:
    main = tmp_path / "main.nf"
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "align.nf").write_text('process ALIGN {\n    script:\n    "bwa mem ${ref} > out.sam"\n}\n')
    main.write_text(
        "include { ALIGN as ALIGN_TUMOUR } from './modules/align'\n"
        "process CALL {\n"
        "    // a comment with a } brace\n"
        "    script:\n"
        '    """\n    awk \'{ print $1 }\' in.txt > \\${x}.vcf\n    """\n'
        "}\n"
        "workflow { CALL() }\n"
    )
    definitions = process_definitions(main.read_text())
    assert list(definitions) == ["CALL"]
    assert definitions["CALL"].endswith('"""\n}') and "workflow" not in definitions["CALL"]
    sources = ProcessSources([str(main)])
    assert sources.source("NFCORE:SARek:ALIGN_TUMOUR").startswith("process ALIGN {")
    assert sources.source("CALL") == definitions["CALL"]
    assert sources.source("UNKNOWN") is None


def test_pipeline_identity_and_cli_params(tmp_path: Path) -> None:
    remote = identify("/home/u/.nextflow/assets/nf-core/demo/main.nf", "https://github.com/nf-core/demo", "04060b4644",
                      "1.0.1", None)  # fmt: skip
    assert (remote.key, remote.reference) == (
        "github.com/nf-core/demo",
        "https://github.com/nf-core/demo@04060b4644 (1.0.1)",
    )
    local = identify(str(tmp_path / "pipes" / "main.nf"), "pipes/main.nf", "bb05fb24ce", None, tmp_path)
    assert (local.key, local.reference) == ("pipes/main.nf", str(tmp_path / "pipes" / "main.nf"))
    assert cli_params(["-resume", "--reads", "a b.fq", "--n=3", "--skip_qc", "--ratio", "0.5", "--flag", "false"]) == {
        "reads": "a b.fq", "n": 3, "skip_qc": True, "ratio": 0.5, "flag": False,
    }  # fmt: skip


def test_runner_arguments_and_command(tmp_path: Path) -> None:
    parsed = split_args(["-resume", "-c", "my.config", "-with-trace", "t.txt", "--x", "1"], str(tmp_path))
    assert parsed.configs == [str(tmp_path / "my.config")]
    assert parsed.passthrough == ["-resume", "-with-trace", "t.txt", "--x", "1"]
    assert parsed.trace_file == str(tmp_path / "t.txt")
    # The command nextflowpy 0.13 builds (make_nextflow_command), rewritten.
    launch = str(tmp_path)
    original = (f'cd {launch}; :>rc.txt; NXF_ANSI_LOG=false nextflow -Duser.country=US -c "/s/f.config" run main.nf  '
                "  >stdout.txt 2>stderr.txt; echo $? >rc.txt")  # fmt: skip
    files = {"stdout": "/s/out put.txt", "stderr": "/s/err.txt", "rc": "/s/rc.txt"}
    command = rewrite_command(original, launch_dir=launch, pipeline="main.nf", args=["--name", "a b"], files=files)
    assert command == (
        ":>/s/rc.txt; NXF_ANSI_LOG=false nextflow -Duser.country=US -trace nextflow.processor.PublishDir "
        "-c \"/s/f.config\" run main.nf --name 'a b'    >'/s/out put.txt' 2>/s/err.txt; echo $? >/s/rc.txt"
    )


def test_the_log_is_rotated_like_nextflow_does(tmp_path: Path) -> None:
    for index in range(0, 10):
        name = ".nextflow.log" + (f".{index}" if index else "")
        (tmp_path / name).write_text(str(index))
    rotate_log(str(tmp_path))
    assert not (tmp_path / ".nextflow.log").exists()
    assert [(tmp_path / f".nextflow.log.{i}").read_text() for i in range(1, 10)] == [str(i) for i in range(0, 9)]
    assert sorted(os.listdir(tmp_path)) == sorted(f".nextflow.log.{i}" for i in range(1, 10))
