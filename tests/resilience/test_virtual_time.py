import asyncio
import time

import pytest


async def test_sleep_takes_no_real_time() -> None:
    loop = asyncio.get_running_loop()
    start_virtual, start_real = loop.time(), time.monotonic()
    await asyncio.sleep(3600)
    assert loop.time() - start_virtual == pytest.approx(3600)
    assert time.monotonic() - start_real < 0.5


async def test_timeout_fires_in_virtual_time() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(5):
            await asyncio.sleep(10)
    assert loop.time() - start == pytest.approx(5)


async def test_concurrent_sleeps_interleave_in_order() -> None:
    order: list[int] = []

    async def sleeper(n: int) -> None:
        await asyncio.sleep(n)
        order.append(n)

    await asyncio.gather(sleeper(3), sleeper(1), sleeper(2))
    assert order == [1, 2, 3]


@pytest.mark.real_time
async def test_real_time_marker_uses_the_real_clock() -> None:
    loop = asyncio.get_running_loop()
    assert abs(loop.time() - time.monotonic()) < 1.0
