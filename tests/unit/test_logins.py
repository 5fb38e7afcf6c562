import gc

from ayni.web.logins import LoginAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_block_a_username_from_one_address_until_the_window_passes() -> None:
    clock = Clock()
    attempts = LoginAttempts(limit=5, window=900, free=100, clock=clock)
    for _ in range(5):
        assert attempts.wait("Ana", "198.51.100.7") == 0
        attempts.failed("Ana", "198.51.100.7")

    assert attempts.wait("ana", "198.51.100.7") == 900
    assert attempts.wait("ana", "203.0.113.9") == 0
    assert attempts.wait("bea", "198.51.100.7") == 0
    clock.now += 901
    assert attempts.wait("ana", "198.51.100.7") == 0


def test_a_successful_sign_in_forgets_earlier_failures_from_that_address() -> None:
    attempts = LoginAttempts(limit=2, window=900, clock=Clock())
    attempts.failed("ana", "198.51.100.7")

    attempts.succeeded("ana", "198.51.100.7")
    attempts.failed("ana", "198.51.100.7")

    assert attempts.wait("ana", "198.51.100.7") == 0


def test_failures_from_ever_new_addresses_make_the_account_wait_longer_each_time() -> None:
    clock = Clock()
    attempts = LoginAttempts(limit=5, free=3, longest=60, clock=clock)
    waits = []
    for n in range(10):
        address = f"198.51.100.{n}"
        clock.now += attempts.wait("ana", address)  # a patient guesser waits exactly as told
        attempts.failed("ana", address)
        waits.append(attempts.wait("ana", f"203.0.113.{n}"))

    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_the_account_delay_is_a_delay_not_a_lock() -> None:
    clock = Clock()
    attempts = LoginAttempts(free=0, longest=300, clock=clock)
    for n in range(50):
        attempts.failed("ana", f"198.51.100.{n}")

    assert attempts.wait("ana", "192.0.2.1") == 300  # at most `longest`, however many failures
    clock.now += 300
    assert attempts.wait("ana", "192.0.2.1") == 0
    assert attempts.wait("bea", "192.0.2.1") == 0  # other accounts are untouched


def test_signing_in_does_not_give_a_guesser_the_free_tries_back() -> None:
    clock = Clock()
    attempts = LoginAttempts(free=2, clock=clock)
    for n in range(4):
        attempts.failed("ana", f"198.51.100.{n}")

    attempts.succeeded("ana", "192.0.2.1")

    assert attempts.wait("ana", "198.51.100.9") > 0


def reachable(root: object) -> list[object]:
    """Every object the limiter holds, however deep."""
    seen, todo, found = set(), [root], []
    while todo:
        current = todo.pop()
        if id(current) in seen or isinstance(current, type):
            continue
        seen.add(id(current))
        found.append(current)
        todo.extend(gc.get_referents(current))
    return found


def test_the_limiter_holds_no_address_only_a_keyed_hash_of_it() -> None:
    attempts = LoginAttempts(limit=2, clock=Clock())
    attempts.failed("ana", "198.51.100.7")
    attempts.failed("ana", "198.51.100.7")

    assert attempts.wait("ana", "198.51.100.7") > 0
    held = [o for o in reachable(attempts) if isinstance(o, str | bytes)]
    assert not [o for o in held if "198.51.100.7" in str(o)]
    assert LoginAttempts(limit=2, clock=Clock()).wait("ana", "198.51.100.7") == 0
