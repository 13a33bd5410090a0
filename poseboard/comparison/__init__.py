"""Paired comparisons of results scored on the same test frames: the difference of two
headlines with its paired-bootstrap interval and p-value, Holm's correction over a table's
family of comparisons, training-seed replicates resampled together with sequences, and the
smallest difference a table can detect.

Sits beside :mod:`poseboard.protocols` (it reads result records, never writes them) and below
the report and the command line.
"""
