"""The delivery policy's timers as a loop: escalation repeats, relief steps and tips, published."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from alerts.mqtt import MqttPublisher
from alerts.policy import DUE_POLL_S, DeliveryPolicy

logger = logging.getLogger(__name__)

_LATE_S = 0.01
"""Wake this much after a step's due time, so the step is due (not a hair early) on waking."""


async def serve_timers(
    policy: DeliveryPolicy,
    publisher: MqttPublisher,
    wearers: Sequence[str],
    sleep_s: Callable[[float], Awaitable[None]],
    *,
    interval_s: float = DUE_POLL_S,
) -> None:
    """Forever: publish what ``policy.due`` returns, then sleep ``interval_s`` of clock time.

    The sleep is cut short when an escalation step (an unanswered fall check's alert) falls
    due sooner, so it goes out on time rather than up to ``interval_s`` late. ``sleep_s``
    sleeps on the daemon's clock (``ScaledClock.sleep_s``), so a simulated day runs its
    timers at its own pace.
    """
    if interval_s <= 0:
        raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
    names = tuple(wearers)
    while True:
        for nudge in policy.due(names):
            logger.info("nudge %s for %s: %s", nudge.kind, nudge.wearer, nudge.title)
            publisher.publish_nudge(nudge)
        next_escalation_s = policy.seconds_to_next_escalation()
        if next_escalation_s is None:
            await sleep_s(interval_s)
        else:
            await sleep_s(min(interval_s, next_escalation_s + _LATE_S))
