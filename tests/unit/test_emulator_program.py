"""What an emulated container prints and when it ends, as a pure function of its command and the clock."""

from __future__ import annotations

import pytest

from emulator.program import MAX_LINES, compile_command, live, restart_delay, run_once


def _run(command, now, image="example.com/app:1", env=None):
    return run_once(compile_command(command, image, env), 100.0, 100.0 + now)


def _text(run):
    return [text for _, text in run.lines]


def test_echo_sleep_exit_are_interpreted_in_time():
    command = ["/bin/sh", "-c", "echo hello; sleep 5; echo bye; exit 3"]
    early = _run(command, 2)
    assert _text(early) == ["hello"] and early.end is None
    done = _run(command, 6)
    assert _text(done) == ["hello", "bye"]
    assert (done.end, done.exit_code) == (105.0, 3)
    assert done.lines[1][0] == 105.0  # "bye" is printed when the sleep ends


def test_plain_echo_command_exits_zero_at_once():
    run = _run(["echo", "hi", "there"], 0)
    assert _text(run) == ["hi there"] and (run.end, run.exit_code) == (100.0, 0)


def test_while_loop_prints_on_its_period_and_runs_until_deleted():
    run = _run(["sh", "-c", "while true; do echo tick $N; sleep 2; done"], 7, env={"N": "7"})
    assert _text(run) == ["tick 7"] * 4 and run.end is None
    assert [at for at, _ in run.lines] == [100.0, 102.0, 104.0, 106.0]


def test_a_long_loop_keeps_a_bounded_tail():
    run = _run(["sh", "-c", "while :; do echo x; sleep 1; done"], 86400)
    assert len(run.lines) == MAX_LINES and run.lines[-1][0] == 100.0 + 86400


def test_for_loop_and_and_or_lists():
    run = _run(["bash", "-c", "for i in a b; do echo n=$i; done && echo end || echo never-reached-order"], 0)
    assert _text(run)[:3] == ["n=a", "n=b", "end"]


def test_windows_shells():
    run = _run(["powershell", "-Command", "Write-Host hi; Start-Sleep -Seconds 2; exit 4"], 10)
    assert _text(run) == ["hi"] and run.exit_code == 4
    assert _text(_run(["cmd", "/c", "echo from cmd"], 0)) == ["from cmd"]


def test_unknown_commands_say_they_are_emulated_and_run_until_deleted():
    run = _run(["python", "app.py", "--serve"], 3600)
    assert run.end is None
    assert _text(run) == [
        "[aci-emulator] python app.py --serve is emulated: no real process runs; the container runs until deleted"
    ]
    inside = _run(["sh", "-c", "echo start; ./server"], 10)
    assert _text(inside)[0] == "start" and "./server is emulated" in _text(inside)[1] and inside.end is None


def test_image_defaults():
    assert _text(run_once(compile_command(None, "mcr.microsoft.com/azuredocs/aci-helloworld:latest"), 0, 1)) == [
        "listening on port 80"
    ]
    assert run_once(compile_command([], "docker.io/library/nginx:1.25"), 0, 1).end is None
    busybox = run_once(compile_command(None, "busybox"), 0, 1)
    assert (busybox.end, busybox.exit_code) == (0, 0)
    other = run_once(compile_command(None, "contoso.azurecr.io/api:7"), 0, 1)
    assert "image contoso.azurecr.io/api:7 is emulated" in _text(other)[0] and other.end is None


def test_sleep_infinity_and_tail_f_never_end():
    for command in (["sleep", "infinity"], ["tail", "-f", "/dev/null"], ["sh", "-c", "echo up; sleep infinity"]):
        assert _run(command, 10**6).end is None


@pytest.mark.parametrize(
    ("policy", "code", "restarts", "state"),
    [
        ("Never", 1, 0, "ended"),
        ("OnFailure", 0, 0, "ended"),
        ("OnFailure", 1, 2, "waiting"),
        ("Always", 0, 2, "waiting"),
    ],
)
def test_restart_policy_and_back_off(policy, code, restarts, state):
    program = compile_command(["sh", "-c", f"echo run; exit {code}"], "x")
    life = live(program, 0.0, 50.0, policy, backoff=10, backoff_cap=300)
    assert life.restart_count == restarts
    if state == "ended":
        assert life.waiting_until is None and life.current.exit_code == code
    else:  # restarted at 10, 30 (10+20), then waits 40 s after the run at 30: until 70
        assert life.starts == [0.0, 10.0, 30.0]
        assert life.waiting_until == 70.0 and life.previous is not None


def test_back_off_doubles_and_is_capped():
    assert [restart_delay(n, 10, 300) for n in (1, 2, 3, 4, 5, 6, 7)] == [10, 20, 40, 80, 160, 300, 300]


def test_quotes_redirections_and_variables():
    run = _run(
        ["sh", "-c", "GREETING=hi; echo \"$GREETING, ${WHO}\" > /dev/stdout 2>&1; printf '%s!\\n' done"],
        0,
        env={"WHO": "you"},
    )
    assert _text(run) == ["hi, you", "done!"]


@pytest.mark.parametrize(
    "command",
    [
        ["sh", "-c", "while true; do " * 2000 + "echo deep" + "; done" * 2000],
        ["sh", "-c", "echo " + "x" * (70 * 1024)],
        ["sh", "-c", "echo 'unbalanced"],
        ["sh", "-c", "for"],
        ["sh", "-c", "while true; do sleep 0.000001; echo fast; done"],
        ["sleep", "1e308"],
    ],
)
def test_hostile_commands_never_break_the_emulator(command):
    program = compile_command(command, "x")
    run = run_once(program, 0.0, 10.0**9)
    assert len(run.lines) <= MAX_LINES
