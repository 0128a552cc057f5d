import asyncio

from scenefarm_operator.runtime.wakeups import Wakeups

KEY = ("default", "video")


async def test_asking_again_and_again_keeps_one_timer_and_the_earliest_wins() -> None:
    wakeups = Wakeups()
    for _ in range(100):  # a pass per event, each asking to be woken at its deadline
        wakeups.wake_later(KEY, 30)
    wakeups.wake_later(KEY, 0.05)
    wakeups.wake_later(KEY, 10)  # later than the pending one: ignored
    assert len(wakeups._timers) == 1
    await asyncio.wait_for(wakeups.wait(KEY, timeout=5), 1)  # woken by the 0.05 s timer


async def test_dropping_a_request_cancels_its_timer() -> None:
    wakeups = Wakeups()
    wakeups.wake_later(KEY, 0.05)
    wakeups.drop(KEY)
    await asyncio.sleep(0.1)
    assert not wakeups._events[KEY].is_set()
