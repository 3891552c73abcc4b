"""What the examples show: the fields and values of each kind of entity, and requests that need
more than an id."""

from __future__ import annotations

from ._model import ODATA, Request, World, each, each_file

# -- requests that need more than an id --------------------------------------


def _reboot(world: World) -> Request:
    pool_id = world.add_pool(world.fresh("pool"), nodes=1)
    (node_id,) = world.wait_nodes(pool_id)
    return Request("POST", f"/pools/{pool_id}/nodes/{node_id}/reboot", body={"nodeRebootOption": "terminate"})


def _delete_node_file(world: World) -> Request:
    _, _, task = world.finished_task()
    info = task["nodeInfo"]
    path = f"/pools/{info['poolId']}/nodes/{info['nodeId']}/files/{info['taskRootDirectory']}/stdout.txt"
    return Request("DELETE", path, "recursive=false")


def _delete_task_file(world: World) -> Request:
    job_id, task_id, _ = world.finished_task()
    return Request("DELETE", f"/jobs/{job_id}/tasks/{task_id}/files/stdout.txt", "recursive=false")


def _delete_task(world: World) -> Request:
    job_id, task_id = world.parked_task()
    return Request("DELETE", f"/jobs/{job_id}/tasks/{task_id}")


def _terminate_task(world: World) -> Request:
    job_id, task_id = world.parked_task()
    return Request("POST", f"/jobs/{job_id}/tasks/{task_id}/terminate")


#: The body JobPatch.json and JobUpdate.json send.
JOB_CHANGES = {
    "priority": 100,
    "constraints": {"maxWallClockTime": "PT1H", "maxTaskRetryCount": -1},
    "poolInfo": {"poolId": World.POOL},
}

# -- what the examples show ---------------------------------------------------

#: PoolGet_Basic.json's pool (PoolList_Basic.json's, with the VM configuration instead of a
#: cloud service one), less what a pool created without it lacks on the service too.
POOL_FIELDS = (
    "id",
    "url",
    "eTag",
    "lastModified",
    "creationTime",
    "state",
    "stateTransitionTime",
    "allocationState",
    "allocationStateTransitionTime",
    "vmSize",
    "resizeTimeout",
    "currentDedicatedNodes",
    "currentLowPriorityNodes",
    "targetDedicatedNodes",
    "targetLowPriorityNodes",
    "enableAutoScale",
    "startTask/commandLine",
    "taskSlotsPerNode",
    "virtualMachineConfiguration/imageReference/publisher",
    "virtualMachineConfiguration/imageReference/offer",
    "virtualMachineConfiguration/imageReference/sku",
    "virtualMachineConfiguration/imageReference/version",
    "virtualMachineConfiguration/nodeAgentSKUId",
)
POOL_VALUES = {"state": "active", "allocationState": "steady", "enableAutoScale": False}
POOL_DEFAULT_FIELDS = ("enableInterNodeCommunication", "taskSchedulingPolicy/nodeFillType")
START_TASK_DEFAULT_FIELDS = (
    "startTask/userIdentity/autoUser/scope",
    "startTask/userIdentity/autoUser/elevationLevel",
    "startTask/maxTaskRetryCount",
    "startTask/waitForSuccess",
)

#: NodeGet_Basic.json's node (NodeList.json's items add runningTaskSlotsCount).
NODE_FIELDS = (
    "id",
    "url",
    "state",
    "schedulingState",
    "stateTransitionTime",
    "lastBootTime",
    "allocationTime",
    "ipAddress",
    "affinityId",
    "vmSize",
    "totalTasksRun",
    "totalTasksSucceeded",
    "runningTasksCount",
    "isDedicated",
    "startTask/commandLine",
    "startTaskInfo/state",
    "startTaskInfo/startTime",
    "startTaskInfo/endTime",
    "startTaskInfo/exitCode",
    "startTaskInfo/retryCount",
    "nodeAgentInfo/version",
    "nodeAgentInfo/lastUpdateTime",
)
NODE_VALUES = {
    "state": "idle",
    "schedulingState": "enabled",
    "isDedicated": True,
    "startTaskInfo/state": "completed",
    "startTaskInfo/exitCode": 0,
    "startTaskInfo/retryCount": 0,
}

#: JobList.json's job, less previousState (the example's job was disabled and enabled again).
JOB_FIELDS = (
    "id",
    "url",
    "eTag",
    "lastModified",
    "creationTime",
    "state",
    "stateTransitionTime",
    "priority",
    "poolInfo/poolId",
    "executionInfo/startTime",
    "executionInfo/poolId",
    "onAllTasksComplete",
    "onTaskFailure",
)
JOB_VALUES = {"priority": 0, "onAllTasksComplete": "noaction", "onTaskFailure": "noaction"}
JOB_DEFAULT_FIELDS = (
    "maxParallelTasks",
    "allowTaskPreemption",
    "usesTaskDependencies",
    "constraints/maxWallClockTime",
    "constraints/maxTaskRetryCount",
)

#: TaskGet.json's and TaskList.json's task, less multiInstanceSettings (not sent).
TASK_FIELDS = (
    "id",
    "url",
    "eTag",
    "creationTime",
    "lastModified",
    "state",
    "stateTransitionTime",
    "commandLine",
    "constraints/retentionTime",
    "constraints/maxTaskRetryCount",
    "requiredSlots",
    "executionInfo/retryCount",
    "executionInfo/requeueCount",
)
TASK_VALUES = {
    "constraints/maxTaskRetryCount": 0,
    "executionInfo/retryCount": 0,
    "executionInfo/requeueCount": 0,
}
TASK_DEFAULT_FIELDS = (
    "userIdentity/autoUser/scope",
    "userIdentity/autoUser/elevationLevel",
    "constraints/maxWallClockTime",
)

#: FileListFromTask.json's and FileListFromNode.json's entries.
FILE_LIST_FIELDS = (
    ODATA,
    *each("name", "url", "isDirectory"),
    *each_file(
        "properties/creationTime",
        "properties/lastModified",
        "properties/contentLength",
        "properties/contentType",
    ),
)

#: AccountListPoolNodeCounts.json's counts, per kind of node.
NODE_STATES = (
    "creating",
    "deallocated",
    "deallocating",
    "idle",
    "leavingPool",
    "offline",
    "preempted",
    "rebooting",
    "reimaging",
    "running",
    "starting",
    "startTaskFailed",
    "unknown",
    "unusable",
    "waitingForStartTask",
    "upgradingOS",
    "total",
)
#: JobGetTaskCounts.json's counts.
TASK_STATES = ("active", "running", "completed", "succeeded", "failed")
#: JobListPreparationAndReleaseTaskStatus.json's preparation task (no release task is sent).
PREPARATION_FIELDS = (
    "state",
    "startTime",
    "endTime",
    "taskRootDirectory",
    "taskRootDirectoryUrl",
    "exitCode",
    "retryCount",
)
