"""core.batch: the cycle collector is paused for one computation and
restored after it, also when it fails; an inner block keeps the outer's
state."""

from __future__ import annotations

import gc

import pytest

from core.batch import collector_paused


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_restored_after():
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block keeps the outer's pause
    assert gc.isenabled()


def test_restored_after_a_failure():
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("the run failed")
    assert gc.isenabled()


def test_a_collector_switched_off_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
