"""``poseboard studio``: the user's cameras → every trained method ranked on them.

Small modules, one job each: :mod:`~poseboard.studio.placement` (where the capture area is),
:mod:`~poseboard.studio.volume` (the floor every camera sees a whole person on, where the test
people walk), :mod:`~poseboard.studio.inputs` (the rig and motion files), :mod:`~poseboard.studio.protocols`
(the in-memory protocols of the user's split), :mod:`~poseboard.studio.scoring` (the trained
methods found and scored through the harness), :mod:`~poseboard.studio.in_view` (the frames every
camera sees whole, and the methods scored on them alone), :mod:`~poseboard.studio.analysis` (rankings,
paired comparisons, the change from the board, the recommendation),
:mod:`~poseboard.studio.page` (HTML, Markdown, JSON) and :mod:`~poseboard.studio.commands`
(the command line). An apps-layer package: it imports the harness and the comparisons.
"""
