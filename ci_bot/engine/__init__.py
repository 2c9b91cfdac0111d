"""The engine: the scheduler (pure decisions over a tree and its states) and the
runner that drives executors from run events; resets, skips and cancels.
"""
