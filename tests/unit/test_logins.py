from ayni.web.logins import LoginAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_block_a_username_from_one_address_until_the_window_passes() -> None:
    clock = Clock()
    attempts = LoginAttempts(limit=5, window=900, clock=clock)
    for _ in range(5):
        assert not attempts.blocked("Ana", "198.51.100.7")
        attempts.failed("Ana", "198.51.100.7")

    assert attempts.blocked("ana", "198.51.100.7")
    assert not attempts.blocked("ana", "203.0.113.9")
    assert not attempts.blocked("bea", "198.51.100.7")
    clock.now += 901
    assert not attempts.blocked("ana", "198.51.100.7")


def test_a_successful_sign_in_forgets_earlier_failures() -> None:
    attempts = LoginAttempts(limit=2, window=900, clock=Clock())
    attempts.failed("ana", "198.51.100.7")

    attempts.succeeded("ana", "198.51.100.7")
    attempts.failed("ana", "198.51.100.7")

    assert not attempts.blocked("ana", "198.51.100.7")
