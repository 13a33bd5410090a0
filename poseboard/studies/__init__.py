"""Research studies beside the board, not part of a user's workflow: a paper's claim under its
paper's conditions (:mod:`~poseboard.studies.paper_conditions` for the uncalibrated claim,
:mod:`~poseboard.studies.volumetric_conditions`, :mod:`~poseboard.studies.epipolar_conditions`),
the trained epipolar transformer on occluded joints (:mod:`~poseboard.studies.epipolar_trained`)
and two methods at several training budgets (:mod:`~poseboard.studies.ladder`). They sit above
the workflows (a ladder rung is a replicate, :mod:`poseboard.workflows.replicates`) and nothing
below imports them. Their commands are in :mod:`~poseboard.studies.commands`; what they found is
written up under docs/findings/."""
