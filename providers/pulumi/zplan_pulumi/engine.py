"""Where the Pulumi stack lives and how to open it through the Automation API.

``StackSpec`` is computed from the provider block without importing Pulumi (so
it can be checked offline); ``open_stack`` is the only place that talks to the
CLI to create or select the stack.

Provider block keys read here (all optional):
  backend          Pulumi state URL; default ``file://<project>/.zplan/pulumi``
  stack            stack name; default ``default`` (set it when several
                   projects share one backend)
  secrets_provider how secrets are encrypted; default ``passphrase``, taken
                   from PULUMI_CONFIG_PASSPHRASE, empty for the local backend
Every other key becomes Pulumi config of the cloud package (``region`` ->
``gcp:region``, ``skip_credentials_validation`` -> ``aws:skipCredentialsValidation``).
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from zplan.provider import ProviderContext

from .preflight import passphrase_env
from .spec import camel

RESERVED = frozenset({"backend", "stack", "secrets_provider"})


@dataclass(frozen=True)
class StackSpec:
    package: str  # the cloud package whose config we own, e.g. "gcp"
    project: str  # Pulumi project name
    stack: str
    backend: str  # state URL
    work_dir: Path  # Pulumi.yaml and the stack settings (passphrase salt) live here
    secrets_provider: str
    env: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, tuple[str, bool]] = field(default_factory=dict)  # key -> (value, secret)


def config_value(value: Any) -> str:
    """Pulumi config values are strings; structured values travel as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, sort_keys=True)


def package_settings(package: str) -> frozenset[str] | None:
    """The provider block's settings: ours (``RESERVED``) and each the cloud package's provider
    takes, as its SDK's config module names them (``pulumi_gcp.config``); None when the SDK is not
    installed (then nothing can be checked: apply's preflight says what is missing)."""
    names = _sdk_config_names(package)
    return None if names is None else RESERVED | names


@functools.lru_cache(maxsize=None)
def _sdk_config_names(package: str) -> frozenset[str] | None:
    """Read, not imported: importing a cloud SDK takes seconds, and a plan only needs the names
    of the properties of its ``config/vars.py`` (``def region(self)``)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(f"pulumi_{package}")  # (finds the folder without importing it)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        text = (Path(list(spec.submodule_search_locations)[0]) / "config" / "vars.py").read_text(encoding="utf-8")
    except OSError:
        return None
    names = frozenset(re.findall(r"^    def ([a-z]\w*)\(self\)", text, re.MULTILINE))
    return names or None


def stack_spec(
    context: ProviderContext,
    package: str,
    secret_keys: frozenset[str] = frozenset(),
    environ: Mapping[str, str] | None = None,
    secret_env: Mapping[str, str] | None = None,
) -> StackSpec:
    """Everything needed to open the stack; raises ProviderError on an unusable setup.

    ``secret_env``: settings (credentials) handed to the engine as the environment variable its
    package reads instead of as config: config is set on the CLI's command line, which every
    user of the machine can read while it runs."""
    environ = os.environ if environ is None else environ
    secret_env = secret_env or {}
    cfg = {k: v for k, v in context.config.items() if k not in secret_env}
    hidden = {var: config_value(context.config[k]) for k, var in secret_env.items() if context.config.get(k) is not None}
    state_root = context.state_dir / "pulumi"
    backend = str(cfg.get("backend") or f"file://{state_root}")
    secrets_provider = str(cfg.get("secrets_provider") or "passphrase")
    project = f"zplan-{package}"
    pulumi_config = {
        f"{package}:{camel(k)}": (config_value(v), k in secret_keys or k in context.secret_settings)
        for k, v in sorted(cfg.items())
        if k not in RESERVED and v is not None
    }
    return StackSpec(
        package=package,
        project=project,
        stack=safe_name(str(cfg.get("stack") or "default")),
        backend=backend,
        work_dir=state_root / "workspaces" / project,
        secrets_provider=secrets_provider,
        env={**passphrase_env(backend, secrets_provider, environ), **hidden},
        config=pulumi_config,
    )


def safe_name(name: str) -> str:
    """Pulumi stack names allow letters, digits, '-', '_' and '.'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name)


def file_backend_dir(backend: str) -> Path | None:
    return Path(backend.removeprefix("file://")) if backend.startswith("file://") else None


def open_stack(spec: StackSpec, program: Callable[[], None], create: bool = True):
    """Create or select the stack (``create=False``: select only, None when absent)."""
    from pulumi import automation as auto

    spec.work_dir.mkdir(parents=True, exist_ok=True)
    local = file_backend_dir(spec.backend)
    if local is not None:
        local.mkdir(parents=True, exist_ok=True)  # the CLI refuses a missing folder
    settings = auto.ProjectSettings(
        name=spec.project, runtime="python", backend=auto.ProjectBackend(url=spec.backend)
    )
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(spec.work_dir),
        env_vars={"PULUMI_SKIP_UPDATE_CHECK": "true", **spec.env},
        secrets_provider=spec.secrets_provider,
        project_settings=settings,
    )
    if create:
        stack = auto.create_or_select_stack(
            stack_name=spec.stack, project_name=spec.project, program=program, opts=opts
        )
    else:
        try:
            stack = auto.select_stack(
                stack_name=spec.stack, project_name=spec.project, program=program, opts=opts
            )
        except auto.StackNotFoundError:
            return None
    sync_config(stack, spec)
    ensure_plugin(stack, spec.package)
    return stack


def plugin_version(package: str) -> str | None:
    """The resource plugin version the installed SDK (``pulumi_<package>``) was built for."""
    from importlib import resources

    try:
        text = (resources.files(f"pulumi_{package}") / "pulumi-plugin.json").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return json.loads(text).get("version")


def ensure_plugin(stack, package: str) -> None:
    """Install the cloud's resource plugin matching the SDK (a no-op when present).

    Inline programs report no required plugins to the CLI, so it would not
    fetch the plugin by itself before the first resource needs it.
    """
    version = plugin_version(package)
    if version:
        stack.workspace.install_plugin(package, f"v{version}")


def sync_config(stack, spec: StackSpec) -> None:
    """Make the stack's cloud config exactly the provider block (removed keys go too)."""
    from pulumi import automation as auto

    current = stack.get_all_config()
    stale = [k for k in current if k.startswith(f"{spec.package}:") and k not in spec.config]
    if stale:
        stack.remove_all_config(stale)
    if spec.config:
        stack.set_all_config(
            {k: auto.ConfigValue(value=v, secret=secret) for k, (v, secret) in spec.config.items()}
        )
