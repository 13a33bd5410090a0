"""The board's trained weights as a DVC artefact: published to a remote by the maintainers,
pulled (verified by hash) by users, and the shared backbone shipped in the repository
(:mod:`poseboard.board.weights`; the command: :mod:`poseboard.board.commands`)."""
