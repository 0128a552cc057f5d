import math

from scenefarm_operator.engine.manifests.naming import RequestKey
from scenefarm_operator.runtime.admission import Admission, Order

A: RequestKey = ("videos", "a")
B: RequestKey = ("videos", "b")
C: RequestKey = ("videos", "c")


def order(priority: int, created: str, name: str, longest: float = 0.0) -> Order:
    return (-priority, -longest, created, name)


EARLY = order(0, "2025-06-01T10:00:00Z", "a")
LATER = order(0, "2025-06-01T10:05:00Z", "b")
URGENT = order(10, "2025-06-01T10:09:00Z", "c")


def jobs(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-s{i:02d}-a1" for i in range(n)]


class Woken:
    def __init__(self) -> None:
        self.keys: list[RequestKey] = []

    def __call__(self, key: RequestKey) -> None:
        self.keys.append(key)


def test_grants_up_to_the_cluster_cap_in_scene_order() -> None:
    admission = Admission(cap=3)
    assert admission.acquire(A, EARLY, jobs("a", 5)) == jobs("a", 3)
    assert admission.running == 3
    assert admission.position(A) == 1


def test_a_request_that_got_everything_is_not_waiting() -> None:
    admission = Admission(cap=3)
    assert admission.acquire(A, EARLY, jobs("a", 2)) == jobs("a", 2)
    assert admission.position(A) is None


def test_nothing_is_granted_once_the_cap_is_reached() -> None:
    admission = Admission(cap=2)
    admission.acquire(A, EARLY, jobs("a", 2))
    assert admission.acquire(B, LATER, jobs("b", 1)) == []
    assert admission.position(B) == 1
    assert admission.running == 2


def test_jobs_seen_by_the_watch_count_against_the_cap() -> None:
    admission = Admission(cap=2)
    admission.observe("other-s00-a1", ("elsewhere", "other"), running=True)
    admission.observe("other-s00-a1", ("elsewhere", "other"), running=True)  # the same Job twice
    assert admission.running == 1
    assert admission.acquire(A, EARLY, jobs("a", 3)) == jobs("a", 1)


def test_the_queue_orders_by_priority_then_creation() -> None:
    admission = Admission(cap=1)
    admission.observe("busy", ("x", "busy"), running=True)
    for key, o in ((B, LATER), (A, EARLY), (C, URGENT)):
        assert admission.acquire(key, o, jobs(key[1], 1)) == []
    assert [admission.position(k) for k in (C, A, B)] == [1, 2, 3]


def test_a_freed_slot_wakes_the_head_of_the_queue_only() -> None:
    woken = Woken()
    admission = Admission(cap=1, on_free=woken)
    admission.acquire(A, EARLY, jobs("a", 1))
    admission.acquire(B, LATER, jobs("b", 2))
    admission.acquire(C, order(0, "2025-06-01T10:09:00Z", "c"), jobs("c", 1))
    admission.observe("a-s00-a1", A, running=False)
    assert woken.keys == [B]
    assert admission.running == 0


def test_a_freed_slot_goes_to_the_head_not_to_a_later_request_that_asks_first() -> None:
    admission = Admission(cap=1)
    admission.acquire(A, EARLY, jobs("a", 1))
    admission.acquire(B, LATER, jobs("b", 1))
    admission.observe("a-s00-a1", A, running=False)
    late = order(0, "2025-06-01T10:30:00Z", "d")
    assert admission.acquire(("videos", "d"), late, jobs("d", 1)) == []
    assert admission.acquire(B, LATER, jobs("b", 1)) == jobs("b", 1)
    assert admission.position(B) is None


def test_within_a_priority_the_queue_is_first_in_first_out() -> None:
    woken = Woken()
    admission = Admission(cap=1, on_free=woken)
    admission.observe("busy", ("x", "busy"), running=True)
    keys = [("videos", f"r{i}") for i in range(4)]
    for i, key in enumerate(keys):
        admission.acquire(key, order(0, f"2025-06-01T10:0{i}:00Z", key[1]), [f"{key[1]}-s00-a1"])
    for i, key in enumerate(keys):
        assert admission.position(key) == i + 1
    for i, key in enumerate(keys):
        admission.observe("busy" if i == 0 else f"{keys[i - 1][1]}-s00-a1", ("x", "y"), running=False)
        assert woken.keys[-1] == key
        assert admission.acquire(key, order(0, f"2025-06-01T10:0{i}:00Z", key[1]), [f"{key[1]}-s00-a1"])


def test_several_waiters_are_woken_when_several_slots_free() -> None:
    woken = Woken()
    admission = Admission(cap=2, on_free=woken)
    admission.acquire(A, EARLY, jobs("a", 2))
    admission.acquire(B, LATER, jobs("b", 1))
    admission.acquire(C, order(0, "2025-06-01T10:09:00Z", "c"), jobs("c", 1))
    admission.forget(A)
    assert woken.keys == [B, C]


def test_a_higher_priority_request_is_served_before_older_waiters() -> None:
    admission = Admission(cap=2)
    admission.acquire(A, EARLY, jobs("a", 2))
    admission.acquire(B, LATER, jobs("b", 2))
    admission.observe("a-s00-a1", A, running=False)
    assert admission.acquire(C, URGENT, jobs("c", 1)) == jobs("c", 1)
    assert admission.acquire(B, LATER, jobs("b", 2)) == []


def test_a_job_that_ends_without_holding_a_slot_wakes_nobody() -> None:
    woken = Woken()
    admission = Admission(cap=1, on_free=woken)
    admission.acquire(A, EARLY, jobs("a", 1))
    admission.acquire(B, LATER, jobs("b", 1))
    admission.observe("never-seen", A, running=False)
    assert woken.keys == []
    assert admission.running == 1


def test_forget_drops_the_requests_reservations_and_place_in_the_queue() -> None:
    admission = Admission(cap=2)
    admission.acquire(A, EARLY, jobs("a", 3))
    admission.forget(A)
    assert admission.running == 0
    assert admission.position(A) is None
    assert admission.acquire(B, LATER, jobs("b", 2)) == jobs("b", 2)


def test_asking_for_nothing_leaves_the_queue() -> None:
    admission = Admission(cap=1)
    admission.acquire(A, EARLY, jobs("a", 2))
    assert admission.position(A) == 1
    assert admission.acquire(A, EARLY, []) == []
    assert admission.position(A) is None


def test_a_waiting_request_is_not_held_back_by_its_own_earlier_wait() -> None:
    admission = Admission(cap=2)
    admission.acquire(A, EARLY, jobs("a", 4))
    admission.observe("a-s00-a1", A, running=False)
    assert admission.acquire(A, EARLY, jobs("a", 4)[2:]) == ["a-s02-a1"]
    assert admission.position(A) == 1


def test_capacity_is_the_free_slots_not_owed_to_requests_ahead() -> None:
    admission = Admission(cap=4)
    admission.observe("busy", ("x", "busy"), running=True)
    assert admission.capacity(A, EARLY) == 3
    admission.reserve(B, LATER, [], waiting=2)  # B waits for 2 slots
    assert admission.capacity(A, EARLY) == 3, "B is behind A: A is not held back"
    assert admission.capacity(C, order(0, "2025-06-01T10:09:00Z", "c")) == 1, "B is ahead of C"
    assert admission.capacity(C, URGENT) == 3, "a higher priority goes first"
    assert admission.capacity(B, LATER) == 3, "its own wait does not hold it back"


def test_capacity_never_goes_below_zero() -> None:
    admission = Admission(cap=1)
    admission.reserve(A, EARLY, jobs("a", 1), waiting=3)
    assert admission.capacity(B, LATER) == 0


def test_reserve_counts_the_started_jobs_and_queues_the_rest() -> None:
    admission = Admission(cap=5)
    admission.reserve(A, EARLY, jobs("a", 2), waiting=1)
    assert (admission.running, admission.position(A)) == (2, 1)
    admission.observe("a-s00-a1", A, running=True)  # the watch sees a reserved Job: still one slot
    assert admission.running == 2
    admission.reserve(A, EARLY, ["a-s02-a1"], waiting=0)
    assert (admission.running, admission.position(A)) == (3, None)


def test_acquire_is_capacity_then_reserve() -> None:
    by_acquire, by_hand = Admission(cap=3), Admission(cap=3)
    for admission in (by_acquire, by_hand):
        admission.reserve(B, EARLY, jobs("b", 1), waiting=1)
    granted = by_acquire.acquire(A, LATER, jobs("a", 4))
    free = by_hand.capacity(A, LATER)
    by_hand.reserve(A, LATER, jobs("a", 4)[:free], waiting=4 - free)
    assert granted == jobs("a", 1)
    assert (by_acquire.running, by_acquire.position(A)) == (by_hand.running, by_hand.position(A)) == (2, 2)


def test_grants_never_exceed_the_cap_over_a_long_mixed_sequence() -> None:
    import random

    rng = random.Random(20250601)
    admission = Admission(cap=5)
    keys = [("videos", f"r{i}") for i in range(8)]
    orders = {k: order(rng.choice((0, 0, 5)), f"2025-06-01T10:{i:02d}:00Z", k[1]) for i, k in enumerate(keys)}
    granted: dict[str, RequestKey] = {}
    for step in range(2000):
        key = rng.choice(keys)
        action = rng.random()
        if action < 0.5:
            candidates = [f"{key[1]}-s{i:02d}-a{step}" for i in range(rng.randint(0, 6))]
            for job in admission.acquire(key, orders[key], candidates):
                granted[job] = key
        elif action < 0.95 and granted:
            job = rng.choice(sorted(granted))
            admission.observe(job, granted.pop(job), running=False)
        else:
            admission.forget(key)
            granted = {j: k for j, k in granted.items() if k != key}
        assert admission.running == len(granted) <= 5


def test_requests_of_one_priority_queue_by_their_longest_waiting_scene_then_by_age() -> None:
    admission = Admission(cap=1)
    admission.observe("busy", ("x", "busy"), running=True)
    d: RequestKey = ("videos", "d")
    short_early = order(0, "2025-06-01T10:00:00Z", "a", longest=4.0)
    long_later = order(0, "2025-06-01T10:05:00Z", "b", longest=16.0)
    unknown = order(0, "2025-06-01T10:07:00Z", "c", longest=math.inf)  # a loop: only its render can tell
    urgent_short = order(10, "2025-06-01T10:09:00Z", "d", longest=1.0)
    for key, o in ((A, short_early), (B, long_later), (C, unknown), (d, urgent_short)):
        assert admission.acquire(key, o, jobs(key[1], 1)) == []
    assert [admission.position(k) for k in (d, C, B, A)] == [1, 2, 3, 4]
