"""The zplan command line with Pulumi's unit-test mocks as the gcp/aws engine.

``python -m tests.modules.pulumi_mocked_cli apply ...`` runs the real command: plan, the
apply waves, state and outputs are zplan's own; only ``pulumi up`` is replaced by the
inline program running under ``pulumi.runtime.set_mocks``, which declares every resource
(``zplan_pulumi.program.make_program``) and returns its inputs plus the canned cloud
outputs below, as a cloud would return computed attributes. No Pulumi CLI, no cloud.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

FAIL = "ZPLAN_TEST_CLOUD_REFUSES"  # set: every change fails

# What the clouds compute, per Pulumi type token (camelCase, as the engine reports them).
CLOUD_OUTPUTS: dict[str, dict[str, Any]] = {
    "gcp:storage/bucket:Bucket": {"url": "gs://bucket", "storageClass": "STANDARD"},
    "gcp:sql/databaseInstance:DatabaseInstance": {
        "publicIpAddress": "34.76.10.20", "privateIpAddress": "10.0.0.5",
        "connectionName": "acme-ml:europe-west1:zplan-dev-meta"},
    "gcp:serviceaccount/account:Account": {
        "email": "zplan-dev-runner@acme-ml.iam.gserviceaccount.com",
        "member": "serviceAccount:zplan-dev-runner@acme-ml.iam.gserviceaccount.com", "uniqueId": "1043"},
    "gcp:artifactregistry/repository:Repository": {"name": "projects/acme-ml/locations/europe-west1/repositories/zplan-dev"},
    "aws:rds/instance:Instance": {
        "address": "zplan-dev-meta.c9akciq32.eu-west-1.rds.amazonaws.com", "port": 3306,
        "endpoint": "zplan-dev-meta.c9akciq32.eu-west-1.rds.amazonaws.com:3306"},
    "aws:iam/role:Role": {"arn": "arn:aws:iam::123456789012:role/zplan-dev-runner"},
    "aws:ecr/repository:Repository": {"repositoryUrl": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/zplan-dev"},
}


def apply_in(root, env: dict[str, str], *args: str) -> None:
    """``zplan apply -auto-approve ARGS`` in ``root`` with this engine; it must succeed."""
    import subprocess
    from pathlib import Path

    path = [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]  # (the providers' folders stay on it)
    proc = subprocess.run([sys.executable, "-m", "tests.modules.pulumi_mocked_cli", "apply", "-auto-approve", *args],
                          cwd=root, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
                          env={**env, "PYTHONPATH": os.pathsep.join(p for p in path if p)})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr


def install() -> None:
    import asyncio
    import threading

    import pulumi
    from pulumi.runtime.settings import get_root_resource

    from zplan.provider import ResourceResult
    from zplan_pulumi import testing
    from zplan_pulumi.program import make_program
    from zplan_pulumi.provider import PulumiProvider
    from zplan_pulumi.results import from_outputs

    one_at_a_time = threading.Lock()  # the mocks are process-wide settings

    def apply(self, changes, on_result) -> None:
        active = [c for c in changes if c.action != "noop"]
        if not active:
            return
        with one_at_a_time:
            _up(self, changes, active, on_result)

    def _up(self, changes, active, on_result) -> None:
        if os.environ.get(FAIL):  # the cloud refuses every change, as a failed ``pulumi up`` reports it
            for change in active:
                on_result(ResourceResult(change.address, None, f"{change.address}: refused by the cloud"))
            return
        asyncio.set_event_loop(asyncio.new_event_loop())  # applies run in zplan's worker threads
        testing.install(CLOUD_OUTPUTS)
        exported: dict[str, Any] = {}

        @pulumi.runtime.test
        def up():
            make_program(changes, self.types)()
            return pulumi.Output.from_input(dict(get_root_resource().outputs)).apply(exported.update)

        up()
        for change in active:
            on_result(from_outputs(self.types[change.type], change, exported))

    PulumiProvider.apply = apply
    PulumiProvider.preflight = lambda self: None


if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    install()
    from zplan.cli.app import main

    sys.argv[0] = "zplan"
    main()
