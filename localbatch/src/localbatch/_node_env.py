"""Where a node lives on disk, and the ``AZ_BATCH_*`` environment its processes see."""

from __future__ import annotations

from pathlib import Path

from ._runtime import Runtime

NODE_DIRS = ("startup", "shared", "workitems", "home")


def nodes_root(data_dir: Path) -> Path:
    return data_dir / "nodes"


def node_dir(data_dir: Path, pool_id: str, node_id: str) -> Path:
    return nodes_root(data_dir) / pool_id / node_id


def job_root(job_id: str) -> str:
    """A job's directory, relative to its node's root."""
    return f"workitems/{job_id}"


def task_root(job_id: str, task_id: str) -> str:
    """A task's directory, relative to its node's root."""
    return f"{job_root(job_id)}/job-1/{task_id}"


def batch_vars(
    runtime: Runtime, pool_id: str, node_id: str, task_dir: Path, working_dir: Path
) -> dict[str, str]:
    """The variables a Linux Batch node sets for a task or StartTask; caller holds the lock."""
    root = node_dir(runtime.data_dir, pool_id, node_id)
    node = runtime.store.nodes[pool_id][node_id]
    return {
        "AZ_BATCH_ACCOUNT_NAME": runtime.account,
        "AZ_BATCH_ACCOUNT_URL": runtime.base_url,
        "AZ_BATCH_POOL_ID": pool_id,
        "AZ_BATCH_NODE_ID": node_id,
        "AZ_BATCH_NODE_IS_DEDICATED": "true" if node["isDedicated"] else "false",
        "AZ_BATCH_NODE_ROOT_DIR": str(root),
        "AZ_BATCH_NODE_SHARED_DIR": str(runtime.shared_dir or root / "shared"),
        "AZ_BATCH_NODE_STARTUP_DIR": str(root / "startup"),
        "AZ_BATCH_TASK_DIR": str(task_dir),
        "AZ_BATCH_TASK_WORKING_DIR": str(working_dir),
        "HOME": str(root / "home"),
    }
