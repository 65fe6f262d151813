"""Each of the scheduler's strategies on its own (`scheduler.ranges`, `scheduler.caps`,
`scheduler.durations`), on small collections whose right answer can be read off by hand; the
simulated workers of `test_scheduler` drive them together.
"""
from xtask_runner.scheduler.caps import Caps, Verdict
from xtask_runner.scheduler.durations import DurationsFirst
from xtask_runner.scheduler.ranges import Ranges


class Worker:
    def __init__(self, name, shutting_down=False):
        self.name = name
        self.shutting_down = shutting_down

    def __repr__(self):
        return self.name


def everything(caps=None, node=None, suite_of=(None,) * 64):
    """An admission that takes every unit: no cap holds."""
    caps = caps or Caps({}, {})
    return caps.admission(node, suite_of, past_caps=True)


# --- ranges ---------------------------------------------------------------------------------------

def test_each_worker_owns_a_contiguous_range_of_equal_work_made_of_whole_units():
    a, b = Worker("a"), Worker("b")
    # Four units of two tests each, 1 s a test.
    ranges = Ranges(range(8), [0, 0, 1, 1, 2, 2, 3, 3], [1.0] * 8, [a, b])
    assert [ranges.owner[i] for i in range(8)] == [a] * 4 + [b] * 4


def test_a_worker_takes_half_of_what_is_left_of_its_range_in_whole_units():
    a, b = Worker("a"), Worker("b")
    ranges = Ranges(range(16), [i // 2 for i in range(16)], [1.0] * 16, [a, b])
    live = {a, b}
    assert ranges.take(a, -1, live, everything()) == [0, 1, 2, 3]
    assert ranges.take(a, 3, live, everything()) == [4, 5]
    assert ranges.take(b, -1, live, everything()) == [8, 9, 10, 11]
    assert ranges.remaining == [6, 7, 12, 13, 14, 15]


def test_a_worker_whose_range_is_used_up_takes_over_the_upper_half_of_the_largest_one():
    a, b = Worker("a"), Worker("b")
    ranges = Ranges(range(16), [i // 2 for i in range(16)], [1.0] * 16, [a, b])
    live = {a, b}
    ranges.take(a, -1, live, everything())
    ranges.remaining = [i for i in ranges.remaining if i >= 8]  # a ran its whole range
    # b's range (8..15) is the only one left: a takes its upper half, and b keeps the lower one.
    block = ranges.take(a, 7, live, everything())
    assert block == [12, 13]
    assert [ranges.owner[i] for i in (8, 9, 10, 11)] == [b] * 4 and [ranges.owner[i] for i in (14, 15)] == [a] * 2


def test_what_lies_below_a_workers_last_test_is_never_given_to_it_unless_nothing_else_can_take_it():
    a, b = Worker("a"), Worker("b")
    ranges = Ranges(range(4), [0, 1, 2, 3], [1.0] * 4, [a, b])
    assert ranges.take(b, 3, {a, b}, everything()) == []
    assert ranges.stranded([(3, None)]) and not ranges.stranded([(-1, None), (3, None)])
    # Out of order, when nothing else can take them: its own range first.
    assert ranges.take(b, 3, {a, b}, everything(), any_order=True) == [2]


def test_a_worker_that_collected_a_share_of_the_files_is_offered_only_what_it_has():
    a, b = Worker("a"), Worker("b")
    # Six tests in three classes; b collected the last two classes only.
    ranges = Ranges(range(6), [0, 0, 1, 1, 2, 2], [1.0] * 6, [a, b])
    has_b = {2, 3, 4, 5}
    assert [(run.start, run.stop, run.owner) for run in ranges.runs_above(-1, {a, b})] == [(0, 2, a), (2, 6, b)]
    runs = ranges.runs_above(-1, {a, b}, has={0, 1, 4, 5})
    assert [(run.start, run.stop, run.owner) for run in runs] == [(0, 2, a), (4, 6, b)], "a gap breaks a run"
    assert not ranges.done_with(-1, has_b) and ranges.done_with(5, has_b)
    # b ran dry and a is still at its first test: b takes over the upper half of what a has left, of
    # what b collected (the class 2..3), never test 0 or 1.
    ranges.remaining = [0, 1, 2, 3]
    ranges.owner = {0: a, 1: a, 2: a, 3: a}
    assert ranges.take(b, 5, {a, b}, everything(), any_order=True, has=has_b) == [2, 3]
    # A test nobody left can take in order (a passed it, b did not collect it) is stranded.
    ranges.remaining = [1]
    assert ranges.stranded([(2, None), (-1, has_b)]) and not ranges.stranded([(0, None), (-1, has_b)])


def test_a_dead_workers_range_is_anyones():
    a, b = Worker("a"), Worker("b")
    ranges = Ranges(range(4), [0, 1, 2, 3], [1.0] * 4, [a, b])
    runs = ranges.runs_above(-1, {b})
    assert [(run.start, run.stop, run.owner) for run in runs] == [(0, 2, None), (2, 4, b)]
    # Tests nobody owns come first when they are next: whoever passed them could not come back.
    assert ranges.take(b, -1, {b}, everything()) == [0]


# --- caps ----------------------------------------------------------------------------------------

def test_a_cap_of_one_keeps_a_suite_on_one_worker_until_it_is_done_there():
    a, b = Worker("a"), Worker("b")
    last = {a: -1, b: -1}
    caps = Caps({"db": 1, "unit": None}, last)
    caps.add_node(a)
    caps.add_node(b)
    caps.hold(a, ["db", "db"])
    assert caps.holders("db") == [a]
    assert not caps.may_take(b, "db") and caps.may_take(a, "db") and caps.may_take(b, "unit")
    caps.release(a, "db")
    assert not caps.may_take(b, "db")
    caps.release(a, "db")
    assert caps.may_take(b, "db")


def test_a_capped_unit_is_passed_over_only_when_its_holder_can_still_take_it():
    a, b = Worker("a"), Worker("b")
    last = {a: 2, b: -1}
    caps = Caps({"db": 1}, last)
    for node in (a, b):
        caps.add_node(node)
    caps.hold(a, ["db"])
    suite_of = ["unit", "unit", "db", "db", "db", "unit"]
    # a holds db and was given nothing past 2: the db tests at 3 and 4 can still be a's.
    assert caps.admission(b, suite_of).check([3, 4]) is Verdict.PASS_OVER
    # a stops: nobody can take them, b waits for the cap.
    a.shutting_down = True
    assert caps.admission(b, suite_of).check([3, 4]) is Verdict.WAIT
    assert caps.admission(b, suite_of).check([5]) is Verdict.TAKE
    assert caps.admission(b, suite_of, past_caps=True).check([3, 4]) is Verdict.TAKE


def test_a_capped_unit_is_not_passed_over_to_a_holder_that_did_not_collect_it():
    a, b = Worker("a"), Worker("b")
    # The workers collected shares of the files: a has tests 0..2 only.
    caps = Caps({"db": 1}, {a: 0, b: -1}, {a: {0, 1, 2}, b: None})
    for node in (a, b):
        caps.add_node(node)
    caps.hold(a, ["db"])
    suite_of = ["db", "db", "db", "db", "db"]
    assert caps.admission(b, suite_of).check([1, 2]) is Verdict.PASS_OVER
    # a could never take 3 and 4: b waits for the cap instead of leaving them to nobody.
    assert caps.admission(b, suite_of).check([3, 4]) is Verdict.WAIT


def test_a_block_never_holds_itself_back():
    a, b = Worker("a"), Worker("b")
    caps = Caps({"db": 1}, {a: -1, b: -1})
    caps.add_node(a)
    caps.add_node(b)
    admission = caps.admission(b, ["db", "db"])
    assert admission.check([0]) is Verdict.TAKE
    admission.took([0])
    caps.hold(a, ["db"])  # a took db meanwhile: b's block already holds the suite
    assert admission.check([1]) is Verdict.TAKE


# --- durations first ------------------------------------------------------------------------------

def test_the_longest_unit_the_caps_allow_comes_first_and_a_test_given_back_comes_before_it():
    first = DurationsFirst({"slow"})
    first.plan([[4, 5], [9], [1, 2]])
    assert first.opted_out("slow") and not first.opted_out("unit")
    assert first.take(lambda unit: 4 not in unit) == [9]
    first.give_back(7)
    assert first.take(lambda unit: True) == [7]
    assert first.take(lambda unit: True) == [4, 5]
    assert first.take(lambda unit: False) == [] and first
    first.clear()
    assert not first
