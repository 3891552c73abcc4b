"""What the Batch REST specification's examples show for each operation localbatch serves.

Azure/azure-rest-api-specs keeps, under
``specification/batch/data-plane/Batch/stable/<version>/examples/``, one or more
example exchanges per operation. Each ``Case`` below is distilled from one of
them by hand (the file is named in ``example``, as ``<version>/<file>``): the
status code, the response headers and the body fields the example shows, and
how to ask localbatch the same question (``request``).

Rules of the distillation:

- Headers: those the example shows, plus ``request-id`` and ``client-request-id``
  (every operation's swagger response declares them; the latter comes back when
  the request says ``return-client-request-id: true``). For the operations
  whose response in the swagger of 2024-07-01.20.0 (``BatchService.json``) was
  read (Pool_Add, Pool_Get, Pool_Exists, Pool_Delete, Pool_Resize,
  ComputeNode_Get, ComputeNode_Reboot, Job_Add, Job_Terminate, JobSchedule_Get,
  JobSchedule_Patch, JobSchedule_Update, JobSchedule_Disable, JobSchedule_Enable;
  for JobSchedule_Add, JobSchedule_Exists and JobSchedule_Terminate, the response
  headers azure-batch 15 reads, generated from the same API), the headers it
  declares for one entity are required too: ``ETag`` and ``Last-Modified`` of
  a GET or HEAD of an entity, and ``DataServiceId`` as well of a create or a
  change of one. A list's declared ``ETag`` is not required (a list is no
  entity, and no example shows one).
- Body fields: paths with ``/`` between keys (``startTask/commandLine``);
  ``*`` is every item of a list (there must be one), ``[key=json]`` every item
  whose ``key`` is that JSON value (there must be one). A field must be present
  and not null. ``odata.metadata`` is required of lists and of entity GETs, as
  the service sends it (the examples leave it out).
- Only fields localbatch can honestly produce for the request sent: a pool
  created without autoscale has no autoScaleFormula, a job never disabled has
  no previousState, a job without a release task has no release task status.
- A field or header the example (or swagger) shows that localbatch lacks and
  should have is a ``Gap``: it stays in the expectation, checked on its own and
  expected to fail (strict), so the gap is on record and closing it shows.
- ``values``: enumerations and constants whose value the example shows and
  that apply to the request sent, compared exactly (the service's casing).
"""

from __future__ import annotations

from . import account, control, jobs, pools, schedules, tasks
from ._model import COMMON_HEADERS, Case, Gap, World

#: Every case, one per operation (and outcome) localbatch serves.
CASES: tuple[Case, ...] = (
    *pools.CASES,
    *jobs.CASES,
    *tasks.CASES,
    *account.CASES,
    *control.CASES,
    *schedules.CASES,
)

__all__ = ["CASES", "COMMON_HEADERS", "Case", "Gap", "World"]
