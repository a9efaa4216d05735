"""The pool: concurrency, thread safety, fork-server restarts, nothing left behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from grader.grading.runner import Call, RunLimits
from tests.sandbox.conftest import LIMITS, UID_BASE, requires_sandbox, root_mode_only

pytestmark = requires_sandbox

SLEEPY = "import time\ndef f(s):\n    time.sleep(s)\n    return s\n"


def proc_status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def processes_with_uids(uids: range) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            uid = proc_status(int(entry)).get("Uid", "").split()
            if uid and int(uid[0]) in uids:
                found.append(int(entry))
    return found


def run_processes(runner, uids: range) -> list[int]:  # type: ignore[no-untyped-def]
    """The runner's runs and spares: by their uids as root, the fork server's descendants unprivileged."""
    from tests.redteam.hostile import sandbox_processes

    return processes_with_uids(uids) if runner.mode == "root" else sandbox_processes(runner)


def minor_faults(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                total += int(f.read().rsplit(")", 1)[1].split()[7])
        except (OSError, IndexError, ValueError):
            pass
    return total


def children_of(pid: int) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and proc_status(int(e)).get("PPid") == str(pid)]


def wait_until(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def settled_faults(pids: list[int]) -> int:
    """The page faults of ``pids`` once they all wait (state S) and the count stays put for 0.1 s."""

    def steady() -> bool:
        if not all(proc_status(p).get("State", "S").startswith("S") for p in pids):
            return False
        before = minor_faults(pids)
        time.sleep(0.1)
        return minor_faults(pids) == before

    assert wait_until(steady), "the spares never settled"
    return minor_faults(pids)


#: Runnable tasks in a stand-in /proc/loadavg: none besides the fork server, or more than any machine's CPUs.
IDLE, BUSY = 1, 10_000


@pytest.fixture()
def loadavg(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """``loadavg(runnable)`` sets what runners started in this test read as /proc/loadavg (idle at first),
    so that warm-ups depend on the test, not on whatever else this machine is running."""
    from grader.sandbox import runner as runner_module

    path = tmp_path / "loadavg"

    def write(runnable: int) -> None:
        path.write_text(f"0.00 0.00 0.00 {runnable}/100 1\n")

    write(IDLE)
    real = runner_module.zygote_config
    monkeypatch.setattr(runner_module, "zygote_config", lambda: {**real(), "loadavg": str(path)})
    return write


@pytest.fixture()
def fresh():  # type: ignore[no-untyped-def]
    from grader.sandbox import SandboxRunner

    with SandboxRunner(slots=3, uid_base=UID_BASE + 192) as runner:
        yield runner


def test_a_fast_submission_is_not_held_up_by_slow_ones(fresh) -> None:
    limits = RunLimits(wall_seconds=10, cpu_seconds=5)
    fresh.start()
    finished: dict[str, float] = {}
    started = time.monotonic()

    def go(name: str, seconds: float) -> None:
        report = fresh.run(SLEEPY, ["f"], [Call(name, "f", (seconds,))], limits)
        assert report.outcomes[0].status == "ok"
        finished[name] = time.monotonic() - started

    threads = [threading.Thread(target=go, args=(n, s)) for n, s in (("slow1", 2.5), ("slow2", 2.5), ("fast", 0.0))]
    for thread in threads[:2]:
        thread.start()
    assert wait_until(lambda: fresh._free == 1)  # the slow ones hold two of the three slots
    threads[2].start()
    for thread in threads:
        thread.join()
    # Ordered, not timed: the fast one was not queued behind the slow ones, however loaded the machine.
    assert finished["fast"] < min(finished["slow1"], finished["slow2"])
    assert min(finished["slow1"], finished["slow2"]) >= 2.5


def test_many_threads_get_their_own_results(runner) -> None:
    source = "import numpy as np\ndef f(a):\n    return np.asarray(a) * 2\n"

    def one(k: int) -> None:
        report = runner.run(source, ["f"], [Call(f"c{k}", "f", (np.full(3, float(k)),))], LIMITS)
        np.testing.assert_array_equal(report.outcomes[0].value, np.full(3, 2.0 * k))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(one, range(18)))


def test_the_fork_server_is_restarted_after_being_killed(fresh) -> None:
    fresh.start()
    first = fresh.zygote_pid
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: proc_status(first).get("State", "Z").startswith(("Z", "X")) or not proc_status(first))
    report = fresh.run(SLEEPY, ["f"], [Call("after", "f", (0.0,))], LIMITS)
    assert report.outcomes[0].status == "ok"
    assert fresh.zygote_pid not in (None, first)


def test_a_run_survives_the_fork_server_dying_under_it(fresh) -> None:
    fresh.start()
    first = fresh.zygote_pid
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(report=fresh.run(SLEEPY, ["f"], [Call("nap", "f", (0.5,))], LIMITS))
    )
    thread.start()
    assert wait_until(lambda: fresh._free == fresh.slots - 1)  # the run holds its slot: it is under way
    os.kill(first, signal.SIGKILL)
    thread.join(15)
    assert result["report"].outcomes[0].status == "ok"  # retried on a fresh server
    assert fresh.zygote_pid != first


def test_nothing_is_left_behind(fresh) -> None:
    before = set(children_of(os.getpid()))
    limits = RunLimits(wall_seconds=0.5, cpu_seconds=5)
    for source in (SLEEPY, "def f(s):\n    while True:\n        pass\n"):
        fresh.run(source, ["f"], [Call("x", "f", (60,))], limits)  # both killed by the wall clock
    for _ in range(5):
        fresh.run(SLEEPY, ["f"], [Call("y", "f", (0,))], limits)
    zygote = fresh.zygote_pid
    fresh.settle()
    # Only the spares remain: an init and a waiting student each, none of them busy
    # once made (spares are refilled when the runs are over, so some may be starting).
    assert wait_until(lambda: len(run_processes(fresh, fresh.uids)) <= 2 * fresh.spares)
    assert wait_until(
        lambda: all(proc_status(p).get("State", "S").startswith("S") for p in run_processes(fresh, fresh.uids))
    )
    assert set(children_of(os.getpid())) - before == {zygote}
    fresh.close()
    assert set(children_of(os.getpid())) - before == set()
    assert not proc_status(zygote)
    assert wait_until(lambda: run_processes(fresh, fresh.uids) == [])


def test_a_closed_runner_refuses_to_run(fresh) -> None:
    fresh.close()
    with pytest.raises(RuntimeError, match="closed"):
        fresh.run(SLEEPY, ["f"], [Call("x", "f", (0,))], LIMITS)


@root_mode_only
def test_runners_claim_disjoint_uid_blocks() -> None:
    from grader.sandbox import SandboxRunner

    with SandboxRunner(slots=1) as first, SandboxRunner(slots=1) as second:
        first.start()
        second.start()
        assert set(first.uids).isdisjoint(second.uids)
        assert first.uids[0] >= 60000 and first.uids[-1] < 65534


@pytest.mark.parametrize(
    "options",
    [{"spares": 0}, {"prefault": "always"}, {"prefault": "never"}, {"prefault": "idle"}],
    ids=["no-spares", "prefault-always", "prefault-never", "prefault-idle"],
)
def test_without_spares_or_with_prefaulting_runs_are_the_same(options) -> None:  # type: ignore[no-untyped-def]
    from grader.sandbox import SandboxRunner

    source = "import os\ndef f(a):\n    print('tail without newline', end='')\n    return [os.getpid(), a * 2]\n"
    with SandboxRunner(slots=2, uid_base=UID_BASE + 256, **options) as runner:
        for k in range(3):
            report = runner.run(source, ["f"], [Call("c", "f", (float(k),))], LIMITS)
            assert report.outcomes[0].value.tolist() == [2.0, 2.0 * k]
            assert report.output == "tail without newline"


def test_output_without_a_final_newline_survives_the_early_finish(runner) -> None:
    source = "import sys\ndef f():\n    sys.stdout.write('a' * 100)\n    sys.stderr.write('b')\n    return 1.0\n"
    for _ in range(5):
        report = runner.run(source, ["f"], [Call("c", "f", ())], LIMITS)
        assert sorted(report.output) == sorted("a" * 100 + "b")


def test_idle_spares_warm_up_and_keep_the_same_memory_allowance(loadavg) -> None:
    from grader.sandbox import SandboxRunner

    source = (
        "import resource\n"
        "import numpy as np\n"
        "def f():\n"
        "    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    limit = resource.getrlimit(resource.RLIMIT_AS)[0]\n"
        "    room = np.empty(200 << 20, dtype=np.uint8)  # within the 256 MiB\n"
        "    try:\n"
        "        more = np.empty(100 << 20, dtype=np.uint8)  # beyond it\n"
        "    except MemoryError:\n"
        "        more = None\n"
        "    return [faults, limit, room.size, more is None]\n"
    )
    seen = {}
    uids = range(UID_BASE + 320, UID_BASE + 330)
    cold_spares = 0
    for mode in ("never", "idle"):
        with SandboxRunner(slots=2, uid_base=uids.start, prefault=mode) as runner:
            runner.start()
            assert wait_until(lambda: len(run_processes(runner, uids)) == 2 * runner.spares)  # init + student each
            spares = run_processes(runner, uids)
            if mode == "never":  # the spares stay as they are once made
                cold_spares = settled_faults(spares)
            else:  # idle: the spares warm up, since no other work wants every CPU (the stand-in loadavg)
                floor = cold_spares + 400
                assert wait_until(lambda pids=spares, floor=floor: minor_faults(pids) > floor)
            report = runner.run(source, ["f"], [Call("c", "f", ())], LIMITS)
            assert report.outcomes[0].status == "ok", report.outcomes[0]
            seen[mode] = report.outcomes[0].value.tolist()
        # The next runner has the same uids: none of these may be counted among its spares.
        assert wait_until(lambda: run_processes(runner, uids) == [], 30)
    (cold_faults, cold_limit, *cold_room), (warm_faults, warm_limit, *warm_room) = seen["never"], seen["idle"]
    assert warm_faults > cold_faults + 200  # the warm-up touched pages before the job
    # The warm-up's heap lies in the reserve that every child makes, so the limits are
    # the same, give or take where the reserve starts (it skips to a 2 MiB boundary)
    # and the two fork servers' own sizes (a few pages apart).
    assert abs(warm_limit - cold_limit) < 3 << 20
    assert cold_room == warm_room == [200 << 20, 1.0]  # 200 MiB fit, 300 MiB do not


def test_spares_do_not_warm_up_while_other_work_wants_every_cpu(loadavg) -> None:
    """A warm-up costs a couple of ms of CPU per spare: in an idle pool on a busy machine
    (a web worker at a deadline) it would take them from that work, so it waits for
    the CPUs to be free. Watched from outside, by the spares' page faults; the load is
    a stand-in /proc/loadavg, since this machine's real load is not the test's to set."""
    from grader.sandbox import SandboxRunner

    uids = range(UID_BASE + 330, UID_BASE + 340)

    def spares_made(runner: SandboxRunner) -> list[int]:
        runner.start()
        # Two spares, each an init and a student, made and waiting for a job.
        assert wait_until(lambda: len(run_processes(runner, uids)) == 4)
        return run_processes(runner, uids)

    with SandboxRunner(slots=1, uid_base=uids.start, prefault="never") as runner:
        cold = settled_faults(spares_made(runner))  # what two spares that never warm up have touched
    # The next runner has the same uids: none of these may be counted among its spares.
    assert wait_until(lambda: run_processes(runner, uids) == [], 30)

    loadavg(BUSY)  # more runnable tasks than CPUs, before the fork server starts
    with SandboxRunner(slots=1, uid_base=uids.start) as runner:
        spares = spares_made(runner)
        time.sleep(0.5)  # idle pool, busy CPUs: no warm-up (it looks every 10 ms)
        assert minor_faults(spares) < cold + 200
        loadavg(IDLE)
        # The CPUs are free now: the spares warm up (a few hundred faults each).
        assert wait_until(lambda: minor_faults(spares) > cold + 400)
        report = runner.run(SLEEPY, ["f"], [Call("c", "f", (0.0,))], LIMITS)
        assert report.outcomes[0].status == "ok", report.outcomes[0]


def test_fresh_arrays_land_on_huge_pages(runner) -> None:
    """Four 800 kB arrays take some 800 page faults on 4 KiB pages and a few dozen on
    the 2 MiB pages of the child's heap reserve (where the kernel allows them)."""
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        mode = f.read()
    source = (
        "import resource\n"
        "import numpy as np\n"
        "def f():\n"
        "    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    x = np.ones(100_000)\n"
        "    y = np.exp(x)\n"
        "    z = x * y\n"
        "    w = z + 1\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before\n"
    )
    report = runner.run(source, ["f"], [Call("c", "f", ())], LIMITS)
    faults = report.outcomes[0].value.item()
    if "[never]" in mode:
        assert faults > 700, mode  # no huge pages: one fault per 4 KiB, and still correct
    else:
        assert faults < 200, f"{faults} page faults with transparent huge pages {mode.strip()}"


def test_prefault_modes_are_checked() -> None:
    from grader.sandbox import SandboxRunner

    with pytest.raises(ValueError, match="prefault must be"):
        SandboxRunner(prefault="sometimes")
    assert SandboxRunner(prefault=True).prefault == "always"
    assert SandboxRunner(prefault=False).prefault == "never"
