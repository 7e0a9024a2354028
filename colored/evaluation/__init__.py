"""Evaluation, the layer on top: it runs exported models through the runtime (batch/) and trained
ones through torch, so it sits above both and nothing below imports it (tests/test_layers.py).

    colored.evaluation.evaluate     metrics of methods on validation photos, tables, contact sheets
    colored.evaluation.temperature  the annealed-mean T and colour strength chosen on them
    colored.evaluation.cli          colored-eval
"""
