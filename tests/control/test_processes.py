"""The restart delay shared by replicas, gateway workers and the audit writer."""

from aiplane.control.processes import Backoff


def test_the_delay_doubles_up_to_its_cap_and_starts_over_after_a_healthy_run():
    backoff = Backoff(0.5, 10.0, healthy_s=30.0)
    assert [backoff.after(1.0) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.after(30.0) == 10.0  # exactly healthy_s is not yet a healthy run
    assert backoff.after(31.0) == 0.5
    assert backoff.after(0.0) == 1.0
