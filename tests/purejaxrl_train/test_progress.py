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


def test_live_evaluation_in_the_line_and_padding_members_ignored():
    out = io.StringIO()
    printer = ProgressPrinter(4, 10, members=1, stream=out)
    printer(0, 1.0, 2, -1, 9.0, 9.0)  # a padding member: no line, not counted
    printer(0, 1.0, 2, 0)
    printer(1, 1.0, 2, 0, 3.5, float("nan"))
    printer(2, 1.0, 2, 0, 3.5, 2.25)
    first, second, third = out.getvalue().splitlines()
    assert "eval" not in first
    assert "greedy eval 3.5" in second and "stochastic" not in second
    assert "greedy eval 3.5  stochastic eval 2.25" in third
