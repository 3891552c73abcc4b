"""The autoscale formula language: parsing, evaluation over samples, and the service's results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from localbatch._autoscale import Evaluation, FormulaError, check, evaluate

#: infra.compute.autoscale_formula(max_nodes=4, slots=2), as deployed.
PROJECT = (
    "$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5);\n"
    "$latest = max(0, $PendingTasks.GetSample(1));\n"
    "$pending = $samples < 70 ? $latest : "
    "max($latest, avg($PendingTasks.GetSample(TimeInterval_Minute * 5)));\n"
    "$wanted = $latest > 0 ? ceil($pending / 2) : 0;\n"
    "$TargetDedicatedNodes = min(4, $wanted);\n"
    "$TargetLowPriorityNodes = 0;\n"
    "$NodeDeallocationOption = taskcompletion;"
)
NOW = 10_000.0
CURRENT = {"CurrentDedicatedNodes": 1.0, "TargetDedicatedNodes": 1.0, "TargetLowPriorityNodes": 0.0}


def history(*values: float, every: float = 30.0) -> list[tuple[float, float]]:
    """Samples every 30 s, oldest first, the last one taken now."""
    return [(NOW - every * (len(values) - 1 - i), value) for i, value in enumerate(values)]


def run(formula: str, samples=None, current=None, **kwargs) -> Evaluation:
    return evaluate(formula, samples or {}, CURRENT if current is None else current, NOW, **kwargs)


def variables(evaluation: Evaluation) -> dict[str, str]:
    return dict(part.split("=", 1) for part in evaluation.results.split(";"))


def value(formula: str, samples=None, current=None) -> str:
    """The printed value of ``$v`` after evaluating a formula that assigns it."""
    evaluation = run(formula, samples, current)
    assert evaluation.error is None, evaluation.error
    return variables(evaluation)["$v"]


def run_error(formula: str, samples=None) -> dict[str, Any]:
    evaluation = run(formula, samples)
    assert evaluation.error is not None, evaluation.results
    return evaluation.error


def syntax_error(formula: str) -> FormulaError:
    with pytest.raises(FormulaError) as caught:
        check(formula)
    return caught.value


# The project's formula.


def test_the_tested_formula_is_the_deployed_one():
    from infra.compute import autoscale_formula

    assert autoscale_formula(max_nodes=4, slots=2) == PROJECT
    check(PROJECT)


def test_no_samples_takes_the_last_sample_path_and_scales_to_zero():
    evaluation = run(PROJECT)
    assert evaluation == Evaluation(
        "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;"
        "$latest=0;$pending=0;$samples=0;$wanted=0",
        0,
        0,
        "taskcompletion",
        None,
    )


@pytest.mark.parametrize(("pending", "nodes"), [(0, 0), (1, 1), (2, 1), (3, 2), (7, 4), (8, 4), (40, 4)])
def test_one_fresh_sample_asks_a_node_per_two_pending_tasks_capped_at_four(pending, nodes):
    evaluation = run(PROJECT, {"PendingTasks": history(pending)})
    assert variables(evaluation)["$samples"] == "10"  # 1 of the 10 samples of 5 minutes
    assert (evaluation.target_dedicated, evaluation.target_low_priority) == (nodes, 0)
    assert evaluation.deallocation == "taskcompletion"


def test_few_samples_use_only_the_latest():
    evaluation = run(PROJECT, {"PendingTasks": history(9, 9, 2)})
    assert variables(evaluation)["$samples"] == "30"
    assert variables(evaluation)["$pending"] == "2"
    assert evaluation.target_dedicated == 1


def test_many_samples_use_the_larger_of_the_latest_and_the_average():
    evaluation = run(PROJECT, {"PendingTasks": history(*[5.0] * 19, 1.0)})
    found = variables(evaluation)
    assert found["$samples"] == "100"
    assert float(found["$pending"]) == pytest.approx(51 / 11)  # 11 samples in 5 minutes
    # ceil(4.64 / 2) = 3 nodes, as the README promises; (4.64 + 1) / 2 = 2.82 was truncated to 2.
    assert found["$TargetDedicatedNodes"] == "3"
    assert evaluation.target_dedicated == 3


def test_nothing_left_now_scales_to_zero_whatever_the_average():
    # $PendingTasks counts running tasks too: a latest 0 means the work is done.
    evaluation = run(PROJECT, {"PendingTasks": history(*[5.0] * 19, 0.0)}, {"TargetDedicatedNodes": 3.0})
    assert float(variables(evaluation)["$pending"]) > 0  # the average still remembers the work
    assert evaluation.target_dedicated == 0


def test_many_samples_of_nothing_pending_scale_to_zero():
    evaluation = run(PROJECT, {"PendingTasks": history(*[0.0] * 20)}, {"TargetDedicatedNodes": 3.0})
    assert variables(evaluation)["$samples"] == "100"
    assert evaluation.target_dedicated == 0


def test_a_rising_queue_follows_the_latest_sample():
    evaluation = run(PROJECT, {"PendingTasks": history(*[1.0] * 19, 6.0)})
    assert evaluation.target_dedicated == 3


# Results, targets and errors as the service reports them.


def test_results_list_the_outputs_then_the_user_variables_by_name():
    evaluation = run("$TargetDedicatedNodes=3")
    assert (
        evaluation.results
        == "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"
    )
    assert evaluation.deallocation is None
    evaluation = run(
        "$b = 2; $C = 4; $A = 1; $a = 3; $TargetLowPriorityNodes = 5; $NodeDeallocationOption = terminate"
    )
    assert evaluation.results == (  # by name as .NET sorts strings: a, A, b, C
        "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=5;$NodeDeallocationOption=terminate;"
        "$a=3;$A=1;$b=2;$C=4"
    )


def test_the_documented_time_based_formula_gives_the_documented_results():
    formula = """$curTime = time();
        $workHours = $curTime.hour >= 8 && $curTime.hour < 18;
        $isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;
        $isWorkingWeekdayHour = $workHours && $isWeekday;
        $TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;"""
    now = datetime(2016, 10, 13, 19, 18, 47, 805000, tzinfo=UTC).timestamp()
    assert evaluate(formula, {}, {}, now).results == (
        "$TargetDedicatedNodes=10;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;"
        "$curTime=2016-10-13T19:18:47.805Z;$isWeekday=1;$isWorkingWeekdayHour=0;$workHours=0"
    )
    at_work = datetime(2016, 10, 13, 9, 0, tzinfo=UTC).timestamp()
    assert evaluate(formula, {}, {}, at_work).target_dedicated == 20


@pytest.mark.parametrize(("target", "nodes"), [("2.9", 2), ("0.99", 0), ("4", 4), ("-3", 0), ("-0.5", 0)])
def test_targets_are_truncated_and_never_negative(target, nodes):
    evaluation = run(f"$TargetDedicatedNodes = {target}; $TargetLowPriorityNodes = {target} + 1")
    assert evaluation.target_dedicated == nodes
    assert evaluation.target_low_priority == max(0, int(float(target) + 1))
    assert variables(evaluation)["$TargetDedicatedNodes"] == target


def test_unassigned_targets_keep_their_current_values_and_can_be_read():
    evaluation = run("$v = $TargetDedicatedNodes + 1", current={"TargetDedicatedNodes": 2.0})
    assert (evaluation.target_dedicated, variables(evaluation)["$v"]) == (2, "3")


def test_aliases_set_the_targets_and_the_full_names_win():
    assert run("$TargetDedicated = 3; $TargetLowPriority = 2").target_dedicated == 3
    assert run("$TargetDedicatedNodes = 1; $TargetDedicated = 3").target_dedicated == 1
    assert run("$TargetDedicated = 3; $TargetDedicatedNodes = 1").target_dedicated == 1
    assert value("$v = $CurrentDedicated", current={"CurrentDedicatedNodes": 5.0}) == "5"


def test_a_failed_evaluation_keeps_the_current_targets_and_says_where():
    evaluation = run("$TargetDedicatedNodes = 3;\n$x = 1 +\n  (2 / 0)", current={"TargetDedicatedNodes": 2.0})
    assert evaluation == Evaluation(
        "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue",
        2,
        0,
        None,
        {
            "code": "AutoScalingFormulaEvaluationError",
            "message": "Autoscale formula evaluation failed",
            "values": [{"name": "Message", "value": "Line 3, Col 6: division by zero"}],
        },
    )


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("$something_useless", "Line 1, Col 1: undefined variable $something_useless"),
        ("$a = 1;\n$b = $a + missing", "Line 2, Col 11: undefined variable missing"),
        ("$v = $PendingTasks + 1", "Line 1, Col 6: $PendingTasks is a sampled variable"),
        ("$v = avg($PendingTasks.GetSample(1))", "Line 1, Col 6: avg() of an empty list"),
        ("$v = val($PendingTasks.GetSample(3), 0)", "Line 1, Col 6: val(): index 0 is outside a vector of 0"),
        ("$TargetDedicatedNodes = requeue", "Line 1, Col 1: $TargetDedicatedNodes must be a finite double"),
        ("$NodeDeallocationOption = 1", "Line 1, Col 1: $NodeDeallocationOption must be one of requeue"),
        ("$v = 1 + TimeInterval_Second", "Line 1, Col 8: '+' is not defined for a double and a timeinterval"),
        ("$v = (1, 2)", "Line 1, Col 8: syntax"),
        ("$v = ln(0)", "Line 1, Col 6: ln(): math domain error"),
        ("$v = $CPUPercent.GetSample(0)", "Line 1, Col 6: GetSample(count) takes one count of at least 1"),
        ("$v = max(1, 2).GetSample(1)", "Line 1, Col 6: GetSample() is a method of the sampled variables"),
    ],
)
def test_evaluation_errors_name_the_problem_and_its_place(formula, message):
    if "syntax" in message:
        assert str(syntax_error(formula)).startswith(message)
        return
    error = run_error(formula)
    assert error["code"] == "AutoScalingFormulaEvaluationError"
    assert error["values"][0]["value"].startswith(message)


# Samples.


def test_getsample_count_gives_the_latest_samples_newest_first():
    samples = {"PendingTasks": history(1, 2, 3, 4)}
    assert value("$v = $PendingTasks.GetSample(1)", samples) == "[4]"
    assert value("$v = $PendingTasks.GetSample(3)", samples) == "[4,3,2]"
    assert value("$v = $PendingTasks.GetSample(10)", samples) == "[4,3,2,1]"
    assert value("$v = val($PendingTasks.GetSample(3), 2)", samples) == "2"


def test_getsample_without_samples_is_empty_and_the_documented_fallback_gives_zero():
    assert value("$v = $PendingTasks.GetSample(1)") == "[]"
    assert value("$v = max(0, $PendingTasks.GetSample(1))") == "0"
    assert value("$v = len($ActiveTasks.GetSample(TimeInterval_Minute))") == "0"


def test_getsample_intervals_look_back_from_now():
    samples = {"RunningTasks": history(*range(1, 21))}  # 20 at now, 1 at 9.5 minutes ago
    assert value("$v = $RunningTasks.GetSample(TimeInterval_Minute)", samples) == "[20,19,18]"
    window = "$v = $RunningTasks.GetSample(1 * TimeInterval_Minute, 3 * TimeInterval_Minute)"
    assert value(window, samples) == "[18,17,16,15,14]"
    swapped = "$v = $RunningTasks.GetSample(3 * TimeInterval_Minute, 1 * TimeInterval_Minute)"
    assert value(swapped, samples) == "[18,17,16,15,14]"
    start = "$v = $RunningTasks.GetSample(time() - TimeInterval_Second * 30)"
    assert value(start, samples) == "[20,19]"


def test_getsample_percent_fails_the_evaluation_as_the_service_does():
    samples = {"RunningTasks": history(*[1.0] * 5)}  # 5 of the 20 samples of 10 minutes
    formula = "$TargetDedicatedNodes = 2;\n$v = avg($RunningTasks.GetSample(TimeInterval_Minute * 10, 70))"
    evaluation = run(formula, samples)
    assert evaluation.target_dedicated == 1
    assert evaluation.error == {
        "code": "InsufficientSampleData",
        "message": "Autoscale evaluation failed due to insufficient sample data",
        "values": [
            {
                "name": "Message",
                "value": "Line 2, Col 10: Insufficient data from data set: "
                "$RunningTasks wanted 70%, received 25%",
            }
        ],
    }
    assert value(formula.replace("70", "25"), samples) == "1"
    nothing = run_error("$v = $CPUPercent.GetSample(TimeInterval_Minute, TimeInterval_Minute * 2, 1)")
    assert nothing["code"] == "InsufficientSampleData"


def test_the_other_sample_methods():
    samples = {"CPUPercent": history(10, 20, 30)}
    assert value("$v = $CPUPercent.GetSamplePercent(TimeInterval_Minute * 2)", samples) == "75"
    assert (
        value("$v = $CPUPercent.GetSamplePercent(TimeInterval_Minute * 3, TimeInterval_Minute)", samples)
        == "25"
    )
    assert value("$v = $CPUPercent.GetSamplePercent(TimeInterval_Second * 10)", samples) == "100"
    assert value("$v = $CPUPercent.Count()", samples) == "3"
    assert value("$v = $CPUPercent.GetSamplePeriod()", samples) == "00:00:30"
    assert value("$v = time() - $CPUPercent.HistoryBeginTime()", samples) == "00:01:00"
    assert run_error("$v = $CPUPercent.HistoryBeginTime()")["values"][0]["value"].endswith("has no samples")


# The language.


@pytest.mark.parametrize(
    ("expression", "printed"),
    [
        ("1 + 2 * 3 - 4 / 2", "5"),
        ("(1 + 2) * 3", "9"),
        ("-2 * -3", "6"),
        ("7 / 2", "3.5"),
        ("1.5e2", "150"),
        ("2 < 3", "1"),
        ("2 >= 3", "0"),
        ("3 == 3 && 2 != 3", "1"),
        ("0 || 0", "0"),
        ("!0", "1"),
        ("!5", "0"),
        ("1 < 2 ? 10 : 20", "10"),
        ("0 ? 1 : 0 ? 2 : 3", "3"),
        ("0 && 1 / 0", "0"),
        ("1 || 1 / 0", "1"),
        ('"abc" < "abd"', "1"),
        ("TimeInterval_Minute * 5", "00:05:00"),
        ("2 * TimeInterval_Hour + TimeInterval_Second", "02:00:01"),
        ("TimeInterval_Day * 1.5", "1.12:00:00"),
        ("-TimeInterval_Millisecond", "-00:00:00.0010000"),
        ("TimeInterval_Week / 7 == TimeInterval_Day", "1"),
        ("TimeInterval_Zero < TimeInterval_100ns", "1"),
        ("TimeInterval_Year > TimeInterval_Week * 52", "1"),
    ],
)
def test_operators(expression, printed):
    assert value(f"$v = {expression}") == printed


@pytest.mark.parametrize(
    ("expression", "printed"),
    [
        ("avg(1, 2, 3)", "2"),
        ("avg($PendingTasks.GetSample(4), 7)", "3.4"),  # [4,3,2,1] and 7
        ("max(0, $PendingTasks.GetSample(4))", "4"),
        ("min($PendingTasks.GetSample(4), 0.5)", "0.5"),
        ("sum($PendingTasks.GetSample(4))", "10"),
        ("len($PendingTasks.GetSample(4), 1, 2)", "6"),
        ("range($PendingTasks.GetSample(4))", "3"),
        ("norm(3, 4)", "5"),
        ("std(2, 4, 4, 4, 5, 5, 7, 9) > 2.13", "1"),
        ("lg(8)", "3"),
        ("ln(1)", "0"),
        ("log(1000)", "3"),
        ("lg($PendingTasks.GetSample(2) * 0 + 8)", "[3,3]"),
        ("percentile($PendingTasks.GetSample(4), 50)", "2"),
        ("percentile($PendingTasks.GetSample(4), 100)", "4"),
        ("percentile($PendingTasks.GetSample(4), 0)", "1"),
        ("val($PendingTasks.GetSample(4), 0)", "4"),
        ("$PendingTasks.GetSample(2) * 2 + 1", "[9,7]"),
        ("$PendingTasks.GetSample(2) - $PendingTasks.GetSample(2)", "[0,0]"),
        ("ceil(1.2) + floor(1.8) + round(2.5)", "5"),
    ],
)
def test_functions(expression, printed):
    assert value(f"$v = {expression}", {"PendingTasks": history(1, 2, 3, 4)}) == printed


def test_time_reads_w3c_and_rfc1123_dates():
    formula = """created = time("Thu, 13 Oct 2016 19:08:47 GMT");
        lifespan = time() - created;
        $v = lifespan > TimeInterval_Minute * 9 && time("2016-10-13T19:18:47Z") == time();
        $w = lifespan"""
    evaluation = evaluate(formula, {}, {}, datetime(2016, 10, 13, 19, 18, 47, tzinfo=UTC).timestamp())
    assert (variables(evaluation)["$v"], variables(evaluation)["$w"]) == ("1", "00:10:00")
    assert variables(evaluation)["$created"] == "2016-10-13T19:08:47.000Z"
    assert run_error('$v = time("soon")')["values"][0]["value"] == "Line 1, Col 6: time() cannot read 'soon'"
    assert (
        "beyond the years 1 to 9999"
        in run_error("$v = time() + TimeInterval_Year * 1e9")["values"][0]["value"]
    )


def test_rand_is_seedable_and_between_zero_and_one():
    first = run("$v = rand(); $w = rand()", seed=7)
    assert first.results == run("$v = rand(); $w = rand()", seed=7).results
    draws = [float(variables(first)[name]) for name in ("$v", "$w")]
    assert all(0 <= draw < 1 for draw in draws)
    assert draws[0] != draws[1]


def test_comments_newlines_optional_dollars_and_semicolons():
    formula = """
        // the cap
        maxNodes = 3;   /* a user variable
                           without its $ */
        $v = $maxNodes
            + maxNodes;;
        $TargetDedicatedNodes = min(maxNodes, 10)
    """
    evaluation = run(formula)
    assert (evaluation.target_dedicated, variables(evaluation)["$v"]) == (3, "6")


def test_the_deallocation_keywords():
    for option in ("requeue", "terminate", "taskcompletion", "retaineddata"):
        assert run(f"$NodeDeallocationOption = {option};").deallocation == option


def test_stop_ends_the_evaluation():
    evaluation = run("$TargetDedicatedNodes = 2; stop(); $TargetDedicatedNodes = 1 / 0")
    assert (evaluation.error, evaluation.target_dedicated) == (None, 2)


def test_scalar_system_variables_are_read_from_current():
    current = {"CurrentDedicatedNodes": 2.0, "TaskSlotsPerNode": 4.0, "UsableNodeCount": 1.0}
    assert value("$v = $CurrentDedicatedNodes * $TaskSlotsPerNode + $UsableNodeCount", current=current) == "9"
    assert value("$v = $PreemptedNodeCount", current={"PreemptedNodeCount": 1.0}) == "1"


# Formulas the service rejects.


@pytest.mark.parametrize(
    ("formula", "line", "column", "what"),
    [
        ("$a = 1 $b = 2", 1, 8, "syntax error, unexpected '$b'"),
        ("$a = 1;\n$b = (2 +\n 3", 3, 2, "syntax error, unexpected end of formula"),
        ("$a = 3 % 2", 1, 8, "syntax error, unexpected '%'"),
        ("$a = 1;\n  $b = floor2(1)", 2, 8, "unknown function 'floor2'"),
        ("$a = $PendingTasks.GetSampel(1)", 1, 20, "unknown method 'GetSampel'"),
        ("$a = val(1)", 1, 6, "'val' does not take 1 argument(s)"),
        ("$a = $CPUPercent.Count(1)", 1, 18, "'Count' does not take 1 argument(s)"),
        ("$PendingTasks = 1", 1, 1, "$PendingTasks is read-only"),
        ("$a = 1;\n$CurrentDedicatedNodes = 1", 2, 1, "$CurrentDedicatedNodes is read-only"),
        ("$CurrentDedicated = 2", 1, 1, "$CurrentDedicated is read-only"),
    ],
)
def test_rejected_formulas_say_what_and_where(formula, line, column, what):
    error = syntax_error(formula)
    assert (error.code, error.line, error.column) == ("AutoScalingFormulaSyntaxError", line, column)
    assert str(error) == f"Line {line}, Col {column}: {what}"
    with pytest.raises(FormulaError):
        run(formula)


def test_the_first_of_several_problems_is_reported():
    assert syntax_error("$a = nope(1) + $CPUPercent.Nope()").column == 6


def test_formula_limits():
    assert syntax_error("$a = 1;" + " " * 8192).code == "AutoScaleFormulaTooLong"
    check("$a = 1;" * 100)
    assert "100 statements" in str(syntax_error("$a = 1;" * 101))
