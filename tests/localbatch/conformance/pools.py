"""Conformance cases: pools, their nodes and the nodes' files."""

from __future__ import annotations

from ._fields import (
    FILE_LIST_FIELDS,
    NODE_FIELDS,
    NODE_VALUES,
    POOL_DEFAULT_FIELDS,
    POOL_FIELDS,
    POOL_VALUES,
    START_TASK_DEFAULT_FIELDS,
    _delete_node_file,
    _reboot,
)
from ._model import (
    CHANGE_HEADERS,
    ENTITY_HEADERS,
    FILE_HEADERS,
    ODATA,
    VM_CONFIGURATION,
    VM_SIZE,
    Case,
    Request,
    World,
    each,
    filtered,
)


def _remove_node(world: World) -> Request:
    pool_id = world.add_pool(world.fresh("pool"), nodes=1)
    (node_id,) = world.wait_nodes(pool_id)
    return Request("POST", f"/pools/{pool_id}/removenodes", body={"nodeList": [node_id]})


CASES: tuple[Case, ...] = (
    # -- pools ----------------------------------------------------------------
    Case(
        name="Pool_List",
        route="GET /pools",
        example="2024-02-01.19.0/PoolList_Basic.json (also 2023-05-01.17.0, 2022-01-01.15.0)",
        request=lambda world: Request("GET", "/pools", filtered(f"id eq '{world.POOL}'")),
        status=200,
        fields=(ODATA, *each(*POOL_FIELDS), *each(*POOL_DEFAULT_FIELDS), *each(*START_TASK_DEFAULT_FIELDS)),
        values={f"value/*/{path}": value for path, value in POOL_VALUES.items()},
    ),
    Case(
        name="Pool_Add",
        route="POST /pools",
        example="2024-02-01.19.0/PoolAdd_VirtualMachineConfiguration.json (also 2023-11-01.18.0)",
        request=lambda world: Request(
            "POST",
            "/pools",
            body={
                "id": world.fresh("pool"),
                "vmSize": VM_SIZE,
                "virtualMachineConfiguration": VM_CONFIGURATION,
                "resizeTimeout": "PT15M",
                "targetDedicatedNodes": 0,
                "targetLowPriorityNodes": 0,
                "taskSlotsPerNode": 3,
                "enableAutoScale": False,
                "metadata": [{"name": "myproperty", "value": "myvalue"}],
            },
        ),
        status=201,
        headers=CHANGE_HEADERS,  # the example: request-id, ETag, Last-Modified; swagger: DataServiceId
    ),
    Case(
        name="Pool_Get",
        route="GET /pools/{pool_id}",
        example="2022-10-01.16.0/PoolGet_Basic.json",
        request=lambda world: Request("GET", f"/pools/{world.POOL}"),
        status=200,
        headers=ENTITY_HEADERS,  # swagger
        fields=(ODATA, *POOL_FIELDS, *POOL_DEFAULT_FIELDS, *START_TASK_DEFAULT_FIELDS),
        values=POOL_VALUES,
    ),
    Case(
        name="Pool_Exists",
        route="HEAD /pools/{pool_id}",
        example="2024-07-01.20.0/PoolExists.json (response 200; also 2023-05-01.17.0, 2022-01-01.15.0)",
        request=lambda world: Request("HEAD", f"/pools/{world.POOL}"),
        status=200,
        headers=ENTITY_HEADERS,  # swagger
    ),
    Case(
        name="Pool_Exists-404",
        route="HEAD /pools/{pool_id}",
        example="2024-07-01.20.0/PoolExists.json (response 404)",
        request=lambda world: Request("HEAD", "/pools/no-such-pool"),
        status=404,
    ),
    Case(
        name="Pool_Delete",
        route="DELETE /pools/{pool_id}",
        example="2022-10-01.16.0/PoolDelete.json (also 2022-01-01.15.0)",
        request=lambda world: Request("DELETE", f"/pools/{world.add_pool(world.fresh('pool'))}"),
        status=202,
    ),
    Case(
        name="Pool_Resize",
        route="POST /pools/{pool_id}/resize",
        example="2023-05-01.17.0/PoolResize.json (also 2022-10-01.16.0, 2022-01-01.15.0)",
        request=lambda world: Request(
            "POST",
            f"/pools/{world.add_pool(world.fresh('pool'))}/resize",
            body={"targetDedicatedNodes": 1, "targetLowPriorityNodes": 0},
        ),
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Pool_Patch",
        route="PATCH /pools/{pool_id}",
        example="2024-07-01.20.0/PoolPatch.json",
        request=lambda world: Request(
            "PATCH",
            f"/pools/{world.add_pool(world.fresh('pool'))}",
            body={"startTask": {"commandLine": "/bin/bash -c 'echo start task'"}},
        ),
        status=200,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Pool_UpdateProperties",
        route="POST /pools/{pool_id}/updateproperties",
        example="2024-02-01.19.0/PoolUpdate.json",
        request=lambda world: Request(
            "POST",
            f"/pools/{world.add_pool(world.fresh('pool'))}/updateproperties",
            body={
                "startTask": {"commandLine": "/bin/bash -c 'echo start task'"},
                "certificateReferences": [],
                "applicationPackageReferences": [],
                "metadata": [],
            },
        ),
        status=204,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Pool_StopResize",
        route="POST /pools/{pool_id}/stopresize",
        example="2024-02-01.19.0/PoolStopResize.json",
        request=lambda world: Request("POST", f"/pools/{world.add_pool(world.fresh('pool'))}/stopresize"),
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Pool_RemoveNodes",
        route="POST /pools/{pool_id}/removenodes",
        example="2024-07-01.20.0/PoolRemoveNodes.json",
        request=_remove_node,
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Pool_EnableAutoScale",
        route="POST /pools/{pool_id}/enableautoscale",
        example="2024-02-01.19.0/PoolEnableAutoscale.json",
        request=lambda world: Request(
            "POST",
            f"/pools/{world.add_pool(world.fresh('pool'))}/enableautoscale",
            body={"autoScaleFormula": "$TargetDedicated=0", "autoScaleEvaluationInterval": "PT8M"},
        ),
        status=200,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Pool_DisableAutoScale",
        route="POST /pools/{pool_id}/disableautoscale",
        example="2024-02-01.19.0/PoolDisableAutoScale.json",
        request=lambda world: Request(
            "POST", f"/pools/{world.add_autoscale_pool(world.fresh('pool'))}/disableautoscale"
        ),
        status=200,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Pool_EvaluateAutoScale",
        route="POST /pools/{pool_id}/evaluateautoscale",
        example="2024-07-01.20.0/PoolEvaluateAutoscale.json",
        request=lambda world: Request(
            "POST",
            f"/pools/{world.add_autoscale_pool(world.fresh('pool'))}/evaluateautoscale",
            body={"autoScaleFormula": "$TargetDedicated=1"},
        ),
        status=200,
        fields=("timestamp", "results"),
        # The example (2016) shows the old name and two outputs; the service now names the
        # three outputs in full (the SDK's recorded tests: "$TargetDedicatedNodes=3;
        # $TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue").
        values={
            "results": "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"
        },
    ),
    # -- nodes ----------------------------------------------------------------
    Case(
        name="ComputeNode_List",
        route="GET /pools/{pool_id}/nodes",
        example="2023-11-01.18.0/NodeList.json (also 2022-01-01.15.0)",
        request=lambda world: Request("GET", f"/pools/{world.POOL}/nodes"),
        status=200,
        fields=(ODATA, *each(*NODE_FIELDS, "runningTaskSlotsCount"), *each(*START_TASK_DEFAULT_FIELDS)),
        values={f"value/*/{path}": value for path, value in NODE_VALUES.items()},
    ),
    Case(
        name="ComputeNode_Get",
        route="GET /pools/{pool_id}/nodes/{node_id}",
        example="2023-11-01.18.0/NodeGet_Basic.json (also 2022-01-01.15.0)",
        request=lambda world: Request("GET", f"/pools/{world.POOL}/nodes/{world.node_id}"),
        status=200,
        headers=ENTITY_HEADERS,  # swagger
        fields=(ODATA, *NODE_FIELDS, *START_TASK_DEFAULT_FIELDS),
        values=NODE_VALUES,
    ),
    Case(
        name="ComputeNode_Reboot",
        route="POST /pools/{pool_id}/nodes/{node_id}/reboot",
        example="2023-11-01.18.0/NodeReboot.json (also 2022-01-01.15.0)",
        request=_reboot,
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    # -- node files -----------------------------------------------------------
    Case(
        name="File_ListFromComputeNode",
        route="GET /pools/{pool_id}/nodes/{node_id}/files",
        example="2024-07-01.20.0/FileListFromNode.json (also 2023-11-01.18.0, 2022-10-01.16.0)",
        # recursive, so that files show (a Linux node's root holds only directories)
        request=lambda world: Request(
            "GET", f"/pools/{world.POOL}/nodes/{world.node_id}/files", "recursive=true"
        ),
        status=200,
        fields=FILE_LIST_FIELDS,
    ),
    Case(
        name="File_GetFromComputeNode",
        route="GET /pools/{pool_id}/nodes/{node_id}/files/{file_path:path}",
        example="2023-11-01.18.0/FileGetFromNode.json (also 2023-05-01.17.0)",
        request=lambda world: Request(
            "GET", f"/pools/{world.POOL}/nodes/{world.node_id}/files/startup/stdout.txt"
        ),
        status=200,
        headers=FILE_HEADERS,
    ),
    Case(
        name="File_GetPropertiesFromComputeNode",
        route="HEAD /pools/{pool_id}/nodes/{node_id}/files/{file_path:path}",
        example="2023-11-01.18.0/FileGetPropertiesFromNode.json (also 2022-01-01.15.0)",
        request=lambda world: Request(
            "HEAD", f"/pools/{world.POOL}/nodes/{world.node_id}/files/startup/stdout.txt"
        ),
        status=200,
        headers=FILE_HEADERS,
    ),
    Case(
        name="File_DeleteFromComputeNode",
        route="DELETE /pools/{pool_id}/nodes/{node_id}/files/{file_path:path}",
        example="2024-07-01.20.0/FileDeleteFromNode.json (also 2023-11-01.18.0, 2022-10-01.16.0)",
        request=_delete_node_file,
        status=200,
    ),
)
