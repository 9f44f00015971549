"""current_config / config_namespace: where an adapter will record, known before it connects."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import flowtrail as ft
from flowtrail.core import adapter


def test_the_current_instance_is_the_one_named_and_its_namespace_the_same(instance: ft.Instance) -> None:
    config = adapter.current_config()
    assert config.root == instance.config.root
    assert adapter.config_namespace(config) == adapter.own_namespace(instance)


def test_without_a_current_instance_it_is_found_without_loading_the_database_layer(instance: ft.Instance) -> None:
    code = (
        "import json, sys\n"
        "from flowtrail.core import adapter\n"
        "config = adapter.current_config()\n"
        "print(json.dumps([str(config.root), adapter.config_namespace(config),\n"
        "                  [m for m in ('sqlalchemy', 'flowtrail.core.instance') if m in sys.modules]]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")}
    done = subprocess.run([sys.executable, "-c", code], cwd=instance.config.root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    root, namespace, loaded = json.loads(done.stdout)
    assert (root, namespace, loaded) == (str(instance.config.root), instance.name, [])
