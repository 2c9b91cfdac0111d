"""The engine: the scheduler (pure decisions over a tree and its states) and the
runner that drives executors from run events; resets, skips and cancels; and
around each run, ``reuse`` of earlier results and ``sign``-ing of artifacts.
"""
