"""The ``gcp`` provider: Google Cloud resources applied through pulumi-gcp."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from zplan_pulumi import PulumiProvider
from zplan_pulumi.preflight import any_env, any_file, dmi_says, home

from .resources import PROVIDER_DEFAULTS, TYPES

CREDENTIAL_VARS = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CREDENTIALS",
    "GOOGLE_CLOUD_KEYFILE_JSON",
    "GCLOUD_KEYFILE_JSON",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
)
CREDENTIAL_KEYS = ("credentials", "access_token")


class GcpProvider(PulumiProvider):
    name = "gcp"
    package = "gcp"
    types = TYPES
    secret_config = frozenset(CREDENTIAL_KEYS)
    secret_env = {"credentials": "GOOGLE_CREDENTIALS", "access_token": "GOOGLE_OAUTH_ACCESS_TOKEN"}  # as pulumi-gcp reads them
    provider_defaults = PROVIDER_DEFAULTS
    setting_env = {  # as pulumi-gcp reads them
        "project": ("GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"),
        "region": ("GOOGLE_REGION", "GCLOUD_REGION", "CLOUDSDK_COMPUTE_REGION"),
    }

    def credentials_problem(self) -> str | None:
        return missing_credentials(self.context.config, os.environ)


def adc_files(environ: Mapping[str, str]) -> list[Path]:
    """Where ``gcloud auth application-default login`` leaves its credentials."""
    config_dir = environ.get("CLOUDSDK_CONFIG")
    root = Path(config_dir) if config_dir else home(environ) / ".config" / "gcloud"
    return [root / "application_default_credentials.json"]


def missing_credentials(config: Mapping[str, object], environ: Mapping[str, str]) -> str | None:
    if any(config.get(k) for k in CREDENTIAL_KEYS) or any_env(environ, CREDENTIAL_VARS):
        return None
    if any_file(adc_files(environ)) or dmi_says("Google"):
        return None  # a user login, or a Google Cloud VM with its own service account
    return (
        "no Google Cloud credentials found for the gcp provider. Run "
        "'gcloud auth application-default login', or set GOOGLE_APPLICATION_CREDENTIALS "
        "to a service-account key file, or set credentials in the provider \"gcp\" block."
    )
