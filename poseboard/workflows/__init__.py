"""The orchestration above the harness, the comparisons and the report: rank one new method
against the committed board (:mod:`~poseboard.workflows.method_run`), write a new method's
skeleton (:mod:`~poseboard.workflows.scaffold`), train the board again with other seeds
(:mod:`~poseboard.workflows.replicates`), compare a re-run board with the committed one
(:mod:`~poseboard.workflows.compare`), and where a method's 2D misses land
(:mod:`~poseboard.workflows.misses`). Their commands are in :mod:`~poseboard.workflows.commands`.
The research studies (a paper's claim under its paper's conditions, budget ladders) are not a
user's workflow: they live above these, in :mod:`poseboard.studies`."""
