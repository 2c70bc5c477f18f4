"""The exceptions the Python API raises: one type per kind of bad request, all ``ZplanAPIError``.

Store and metadata failures are turned into these, so a notebook never sees a raw traceback
from S3, GCS, MySQL or ML Metadata.
"""

from __future__ import annotations


class ZplanAPIError(Exception):
    """Base of every error of ``zplan.Project``: ``summary`` says what went wrong, ``hint`` what to do."""

    def __init__(self, summary: str, hint: str = "", diagnostics: tuple = ()) -> None:
        super().__init__(f"{summary}: {hint}" if hint else summary)
        self.summary = summary
        self.hint = hint
        self.diagnostics = diagnostics  # the core's diagnostics it stands for (with their file:line), if any


class UnknownAddress(ZplanAPIError):
    """No step at that address, or nothing it recorded under that output name."""


class UnknownOutput(ZplanAPIError):
    """No project output (``output "NAME" {}``) by that name, or none recorded yet."""


class SensitiveOutput(ZplanAPIError):
    """The output is sensitive: pass ``reveal=True`` to read it in clear."""


class RunNotFound(ZplanAPIError):
    """No run with that number in the stack's metadata store."""


class InvalidProject(ZplanAPIError):
    """The project cannot be read as given: a mistake in its configuration (``diagnostics`` hold the
    file:line), no configuration in the folder, an undeclared stack, a plan file that is not there."""


class StoreUnreachable(ZplanAPIError):
    """The artifact store, metadata store or state backend could not be read."""


class ArtifactDamaged(ZplanAPIError):
    """The artifact's content does not match its recorded digest (or it is missing from the store)."""


class MaterializerMissing(ZplanAPIError):
    """No materializer of the name the artifact was written by is registered: the module of the project registering
    it is not imported (the API never imports step code), or the package exposing it is not installed."""
