"""The ``aws`` provider: AWS resources applied through pulumi-aws."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from zplan_pulumi import PulumiProvider
from zplan_pulumi.preflight import any_env, any_file, dmi_says, home

from .resources import PROVIDER_DEFAULTS, TYPES

CREDENTIAL_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
CREDENTIAL_KEYS = ("access_key", "profile", "shared_credentials_files", "assume_role_with_web_identity")
REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")


class AwsProvider(PulumiProvider):
    name = "aws"
    package = "aws"
    types = TYPES
    secret_config = frozenset({"access_key", "secret_key", "token"})
    secret_env = {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY", "token": "AWS_SESSION_TOKEN"}
    provider_defaults = PROVIDER_DEFAULTS
    setting_env = {"region": REGION_VARS}

    def credentials_problem(self) -> str | None:
        return missing_credentials(self.context.config, os.environ)


def aws_files(environ: Mapping[str, str]) -> tuple[Path, Path]:
    root = home(environ) / ".aws"
    credentials = Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or root / "credentials")
    config = Path(environ.get("AWS_CONFIG_FILE") or root / "config")
    return credentials, config


def missing_credentials(config: Mapping[str, object], environ: Mapping[str, str]) -> str | None:
    credentials, profiles = aws_files(environ)
    has_creds = (
        any(config.get(k) for k in CREDENTIAL_KEYS)
        or any_env(environ, CREDENTIAL_VARS)
        or any_file([credentials, profiles])
        or dmi_says("Amazon EC2")  # an EC2 instance role
    )
    if not has_creds:
        return (
            "no AWS credentials found for the aws provider. Run 'aws configure' (or "
            "'aws sso login' with AWS_PROFILE), or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or set profile in the provider \"aws\" block."
        )
    if not (config.get("region") or any_env(environ, REGION_VARS) or profiles.is_file()):
        return 'no AWS region set: add region = "..." to the provider "aws" block, or set AWS_REGION.'
    return None
