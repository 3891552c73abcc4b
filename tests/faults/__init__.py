"""The fault suite: hostile and careless cases, each by name, and where it is tested.

- localbatch killed mid-run, down 2 s and 20 s, restarted:
  ``test_killed_services::test_localbatch_killed_mid_run_and_restarted``
- Azurite killed mid-run, and after the last task:
  ``test_killed_services::test_azurite_killed_and_restarted``
- result blobs deleted after their task succeeded: ``test_lost_results``
  (``jobs outputs``: ``tests/batchwords/test_cli_jobs.py``)
- SIGTERM and SIGHUP during a run: ``test_signals``
- a second ``run --keep`` while the first one's services are up:
  ``tests/batchwords/test_run.py::test_keep_leaves_services_for_local_commands``
- impossible pool sizes, unreachable services, bad keys, Entra over http, no sign-in,
  long ``Retry-After`` answers against a deadline: ``test_bad_input``
- hidden files, nodetask results, links out, an output folder inside, backslashes,
  collapsing task ids, very long names: ``test_input_selection``
- an output folder that is a file, or that fails at download time:
  ``tests/batchwords/test_run.py``
- the main job under localbatch's realism profile (lagging counts, slow allocation and
  StartTasks, transient 500/503 answers, some after the change was made, preempted nodes,
  slow deletes): ``test_realism``; each part alone: ``tests/localbatch/test_realism.py``;
  a delete already under way and a retried pool create: ``tests/batchwords/test_converge.py``
- replayed, undated or doubled-parameter requests to localbatch:
  ``tests/localbatch/test_api.py::TestAuthentication``
"""
