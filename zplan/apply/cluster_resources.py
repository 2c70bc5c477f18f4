"""A step's ``resources`` as Dask placement: only workers big enough may take it.

Dask's own resource accounting only knows what workers declare (``--resources``), and
a task asking for an undeclared resource waits forever. So: CPUs are matched against a
worker's threads, memory against its memory limit, GPUs against its declared ``GPU``
resource (which Dask then also counts, so two 1-GPU steps never share one GPU). A step
no worker can take fails at once, naming what the cluster has.
"""

from __future__ import annotations

from zplan import diags


def placement(resources, client, address: str) -> dict:
    """Keyword arguments for ``Client.submit``; a DiagnosticError when no worker fits."""
    if resources is None or resources.empty:
        return {}
    workers = client.scheduler_info(n_workers=-1)["workers"]
    # by name where workers have one: a nanny restarts a worker that died at another address, under its name
    fitting = [addr if info.get("name") is None else info["name"] for addr, info in workers.items() if _fits(resources, info)]
    if not fitting:
        have = "; ".join(_describe(info) for info in workers.values()) or "no workers"
        raise diags.fail(f"{address} asks for {resources.describe()}, which no worker of the Dask cluster has",
                         f"the workers have: {have}. Start workers with more threads, memory or "
                         "--resources GPU=N, or lower the step's resources")
    kwargs: dict = {"workers": fitting, "allow_other_workers": False}
    if resources.gpu:
        kwargs["resources"] = {"GPU": resources.gpu}
    return kwargs


def _fits(resources, info: dict) -> bool:
    if resources.cpu and info.get("nthreads", 0) < resources.cpu:
        return False
    limit = info.get("memory_limit") or 0  # 0: no limit set
    if resources.memory and limit and limit < resources.memory:
        return False
    return not resources.gpu or (info.get("resources") or {}).get("GPU", 0) >= resources.gpu


def _describe(info: dict) -> str:
    gpus = (info.get("resources") or {}).get("GPU", 0)
    memory = info.get("memory_limit") or 0
    return f"{info.get('nthreads', 0)} threads, {memory / 2**30:.1f} GiB" + (f", {gpus:g} GPU" if gpus else "")
