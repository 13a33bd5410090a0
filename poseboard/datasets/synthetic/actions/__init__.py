"""Action generators of the synthetic world, by kind; :mod:`.plan` holds what they share.

The registry (name → generator) is :data:`poseboard.datasets.synthetic.motion.ACTIONS`' table
in :mod:`poseboard.datasets.synthetic.motion`; these modules only define the generators.
"""
