"""Progress lines: one per update once every vmapped member reported, means over members."""

import io

from purejaxrl_train.progress import ProgressPrinter


def test_waits_for_every_member_and_averages():
    out = io.StringIO()
    printer = ProgressPrinter(10, 100, members=2, reference_return=2.0, stream=out)
    printer(4, 1.0, 3, 0)
    assert out.getvalue() == ""
    printer(4, float("nan"), 0, 1)  # a member without finished episodes is left out of the mean
    printer(9, 1.0, 1, 1)
    printer(9, 3.0, 1, 0)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "update      5/10" in lines[0] and "steps         1,000" in lines[0]
    assert "return 1 (50.0% of optimal)" in lines[0]
    assert "return 2 (100.0% of optimal)" in lines[1]


def test_no_episodes_and_negative_reference():
    out = io.StringIO()
    printer = ProgressPrinter(2, 10, reference_return=-1.5, reference_name="twap", stream=out)
    printer(0, float("nan"), 0, 0)
    printer(1, -2.0, 4, 0)
    first, second = out.getvalue().splitlines()
    assert "no episode ended" in first
    assert "return -2 (twap: -1.5)" in second and "%" not in second
