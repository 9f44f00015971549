"""A connection lost after COMMIT reached PostgreSQL: the save stands, nothing is deleted, a retry is sound."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tcp_proxy import TcpProxy

import flowtrail as ft
from flowtrail.core.artifacts.cleanup import leftovers
from flowtrail.core.db.context import disconnect

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxied(pg_instance, postgres_url, tmp_path):
    """The pg_instance, reconnected through a proxy that can drop a connection after COMMIT."""
    proxy = TcpProxy(int(postgres_url.rsplit(":", 1)[1].split("/", 1)[0]))
    disconnect()
    root = pg_instance.config.root
    (root / ".flowtrail" / "config.json").write_text(
        (root / ".flowtrail" / "config.json").read_text().replace(postgres_url, proxy.url(postgres_url))
    )
    instance = ft.connect(root)
    yield instance, proxy
    disconnect()
    proxy.close()


@pytest.mark.parametrize("content", ["file", "dataframe"])
def test_a_commit_whose_answer_is_lost_keeps_its_object_and_its_record(proxied, tmp_path, content):
    instance, proxy = proxied
    source = tmp_path / "counts.csv"
    source.write_text("gene,count\nTP53,5\n")
    key = "counts.csv" if content == "file" else "counts.parquet"

    def artifact():
        if content == "file":
            return ft.Artifact(source, key=key)
        return ft.Artifact.from_dataframe(pd.read_csv(source), key=key)

    proxy.drop_after_commit()
    saved = artifact().save()  # the connection drops once the server committed
    assert proxy.commits_dropped == 1

    assert Path(saved.location).is_file(), "the object of a committed row was deleted"
    stored = ft.Artifact.get(key=key)
    assert stored.uid == saved.uid and stored.hash == saved.hash and Path(stored.location).is_file()
    assert stored.load() is not None

    retried = artifact().save()
    assert retried.uid == saved.uid and Path(retried.location).is_file()
    assert ft.Artifact.filter(key=key).count() == 1
    assert leftovers(instance, older_than_s=0) == []  # the retry's own copy went away, the object stayed


def test_a_lost_commit_that_cannot_be_checked_keeps_the_object(proxied, tmp_path, postgres_url, monkeypatch):
    """The commit's answer is lost and the registry stays unreachable: the error says so, the copy is kept."""
    instance, proxy = proxied
    source = tmp_path / "calls.vcf"
    source.write_text("##fileformat=VCFv4.2\n")
    proxy.drop_after_commit(then_stop=True)
    with pytest.raises(ft.RegistryUnavailable if hasattr(ft, "RegistryUnavailable") else ft.FlowtrailError) as info:
        ft.Artifact(source, key="calls.vcf").save()
    assert "were kept" in str(info.value) and "retry" in str(info.value)
    disconnect()

    monkeypatch.setenv("FLOWTRAIL_DB_URL", postgres_url)  # the registry itself, without the proxy
    ft.connect(instance.config.root)
    stored = ft.Artifact.get(key="calls.vcf")  # the commit did happen ...
    assert Path(stored.location).read_text() == "##fileformat=VCFv4.2\n"  # ... and its object is there
    assert ft.Artifact(source, key="calls.vcf").save().uid == stored.uid  # the retry returns it
