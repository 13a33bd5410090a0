"""The board's trained weights as a DVC artefact: published to a remote by the maintainers,
pulled (verified by hash) by users, and shipped in the repository's weights/ within a size
budget, with a record of what it holds and leaves out (:mod:`poseboard.board.weights`,
:mod:`poseboard.board.record`; the command: :mod:`poseboard.board.commands`)."""
