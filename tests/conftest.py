"""Fixtures several test files share (pytest finds this file itself; tests/ is on sys.path).

`model`: the tiny exported ColorED model most runtime tests run (tests/_tiny_model.py); a test
file that needs another one (a classification head, a torch model) defines its own `model`,
which takes precedence over this one. `tiny_fixture`: the committed torch-free model file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _tiny_model import FIXTURE, tiny_model_path


@pytest.fixture(scope="module")
def model() -> Path:
    """The tiny regression model: exported at test time where torch is installed, else the committed file."""
    return tiny_model_path()


@pytest.fixture(scope="session")
def tiny_fixture() -> Path:
    """tests/fixtures/tiny-regression.onnx (15 KB, its contract in metadata): runs without torch."""
    return FIXTURE
