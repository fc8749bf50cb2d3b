"""limits: counters through django-ratelimit in RATELIMIT_USE_CACHE, the
failed-verification reservation, the per-address count of the services, and the
audit budget of refused Bearer tokens with its one summary row per window.

The clock of the windows is frozen (``frozen_clock``); the counters live in a
real local-memory cache, or in a Redis where nothing listens for the outages.
"""

from datetime import datetime, timezone

import pytest
from django.core.cache import caches
from django_ratelimit.core import get_usage

from django_jwt_email import limits, services
from django_jwt_email.models import TokenEvent

pytestmark = pytest.mark.usefixtures("frozen_clock")


# --- rates and buckets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("5/m", (5, 60)), ("3/15m", (3, 900)), ("20/h", (20, 3600)), ("1/d", (1, 86400))],
)
def test_parse_rate(rate, parsed):
    assert limits.parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["lots", "5", "5/", "5/0m", "5/m ", "-1/m", "5/w", 5, None])
def test_parse_rate_refuses_what_is_not_a_rate(rate):
    with pytest.raises(ValueError):
        limits.parse_rate(rate)


@pytest.mark.parametrize(
    ("ip", "bucket"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::"),
        (None, "unknown"),
    ],
)
def test_ip_bucket_masks_ipv6_to_a_64(ip, bucket):
    assert limits.ip_bucket(ip) == bucket


def test_ip_bucket_follows_django_ratelimits_masks(settings):
    settings.RATELIMIT_IPV4_MASK = 24
    settings.RATELIMIT_IPV6_MASK = 48
    assert limits.ip_bucket("203.0.113.9") == "203.0.113.0"
    assert limits.ip_bucket("2001:db8:1:2::1") == "2001:db8:1::"


# --- counting through django-ratelimit ------------------------------------------------


def test_count_refuses_the_request_beyond_the_rate_until_the_window_ends(rates, frozen_clock):
    rates(request_ip="2/m")
    limits.count("request_ip", "203.0.113.9")
    limits.count("request_ip", "203.0.113.9")
    with pytest.raises(limits.Refused) as refused:
        limits.count("request_ip", "203.0.113.9")
    assert refused.value.group == "request_ip"
    assert 1 <= refused.value.retry_after <= 60
    limits.count("request_ip", "203.0.113.10")  # another client
    frozen_clock.now += refused.value.retry_after
    limits.count("request_ip", "203.0.113.9")


def test_counters_are_apart_from_a_sites_own_group_of_the_same_name(rates):
    rates(request_ip="1/m")
    for _ in range(3):  # the site's own @ratelimit(group="request_ip", ...) counts
        get_usage(None, group="request_ip", key=lambda g, r: "203.0.113.9", rate="1/m",
                  increment=True)  # fmt: skip
    limits.count("request_ip", "203.0.113.9")


def test_counters_live_in_django_ratelimits_cache(rates, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "l"},
    }
    settings.RATELIMIT_USE_CACHE = "limits"
    rates(request_ip="1/m")
    limits.count("request_ip", "203.0.113.9")
    caches["default"].clear()
    with pytest.raises(limits.Refused):
        limits.count("request_ip", "203.0.113.9")
    caches["limits"].clear()
    limits.count("request_ip", "203.0.113.9")


def test_count_fails_closed_when_the_cache_fails(rates, unreachable_ratelimit_cache):
    with pytest.raises(limits.Refused) as refused:
        limits.count("request_ip", "203.0.113.9")
    assert refused.value.retry_after == limits.FAIL_CLOSED_RETRY_AFTER


def test_count_fails_open_with_ratelimit_fail_open(rates, unreachable_ratelimit_cache, settings):
    settings.RATELIMIT_FAIL_OPEN = True
    limits.count("request_ip", "203.0.113.9")


# --- the per-address count of a link request -------------------------------------------


def test_request_address_counts_only_inside_enforced(rates):
    rates(request_email="1/h")
    for _ in range(3):  # a shell, a task, a site's tests: not limited
        limits.count_request_address("alice@example.com")
    with limits.enforced():
        limits.count_request_address("alice@example.com")
        with pytest.raises(limits.Refused) as refused:
            limits.count_request_address("ALICE+x@Example.com")
    assert refused.value.group == "request_email"


@pytest.mark.django_db
def test_request_link_counts_the_address_it_is_given(user, rates, mailoutbox):
    rates(request_email="1/h")
    with limits.enforced():
        services.request_link(user.email)
        with pytest.raises(limits.Refused):
            services.request_link(user.email.upper())
    assert len(mailoutbox) == 1


# --- the failed-verification reservation ------------------------------------------------


def test_reservations_never_exceed_the_limit(rates):
    rates(failed_ip="3/h")
    held = [limits.reserve_failure("203.0.113.9") for _ in range(3)]
    for _ in range(5):  # refused ones do not hold the budget
        with pytest.raises(limits.Refused) as refused:
            limits.reserve_failure("203.0.113.9")
    assert refused.value.group == "failed_ip"
    assert 1 <= refused.value.retry_after <= 3600
    limits.reserve_failure("203.0.113.10")  # another client
    held[0].release()  # a success gives its reservation back...
    limits.reserve_failure("203.0.113.9")  # ...so one more may try
    with pytest.raises(limits.Refused):
        limits.reserve_failure("203.0.113.9")


def test_a_reservation_is_given_back_once_only(rates):
    rates(failed_ip="2/h")
    first = limits.reserve_failure("203.0.113.9")
    limits.reserve_failure("203.0.113.9")
    for _ in range(3):
        first.release()
    limits.reserve_failure("203.0.113.9")
    with pytest.raises(limits.Refused):
        limits.reserve_failure("203.0.113.9")


def test_a_reservation_given_back_after_its_window_changes_nothing(rates, frozen_clock):
    rates(failed_ip="1/m")
    reservation = limits.reserve_failure("203.0.113.9")
    frozen_clock.now += 120
    caches["default"].clear()  # its counter expired with its window
    reservation.release()
    limits.reserve_failure("203.0.113.9")
    with pytest.raises(limits.Refused):
        limits.reserve_failure("203.0.113.9")


def test_the_failure_window_ends_when_retry_after_says(rates, frozen_clock):
    rates(failed_ip="1/h")
    limits.reserve_failure("203.0.113.9")
    with pytest.raises(limits.Refused) as refused:
        limits.reserve_failure("203.0.113.9")
    frozen_clock.now += refused.value.retry_after - 1
    with pytest.raises(limits.Refused):
        limits.reserve_failure("203.0.113.9")
    frozen_clock.now += 1
    limits.reserve_failure("203.0.113.9")


def test_a_per_second_failure_window_ends_with_its_second(rates, frozen_clock):
    rates(failed_ip="1/s")
    limits.reserve_failure("203.0.113.9")
    with pytest.raises(limits.Refused) as refused:
        limits.reserve_failure("203.0.113.9")
    assert refused.value.retry_after <= 1
    frozen_clock.now += 1
    limits.reserve_failure("203.0.113.9")


def test_no_reservation_with_limits_off(rates, settings):
    settings.RATELIMIT_ENABLE = False
    rates(failed_ip="1/h")
    for _ in range(3):
        limits.reserve_failure("203.0.113.9").release()


def test_reservation_fails_closed_when_the_cache_fails(rates, unreachable_ratelimit_cache):
    with pytest.raises(limits.Refused) as refused:
        limits.reserve_failure("203.0.113.9")
    assert (refused.value.group, refused.value.retry_after) == ("failed_ip", 60)


def test_reservation_fails_open_with_ratelimit_fail_open(unreachable_ratelimit_cache, settings):
    settings.RATELIMIT_FAIL_OPEN = True
    limits.reserve_failure("203.0.113.9").release()  # nothing taken, nothing to give back


# --- the audit budget of refused Bearer tokens --------------------------------------


def refuse(ip: str, times: int) -> list[bool]:
    return [limits.keep_bearer_refusal(ip) for _ in range(times)]


def summaries():
    return list(
        TokenEvent.objects.filter(event="rate_limited")
        .order_by("ip")
        .values_list("reason", "ip", "count")
    )


@pytest.mark.django_db
def test_refusals_within_the_rate_are_kept_and_the_rest_counted(rates, frozen_clock):
    rates(bearer_failed_ip="3/m")
    assert refuse("203.0.113.9", 5) == [True, True, True, False, False]
    assert refuse("203.0.113.10", 1) == [True]  # per client
    assert summaries() == []  # the window is not over: its count is not final
    frozen_clock.now += 60
    assert limits.write_bearer_summaries() == 1
    assert summaries() == [("bearer_failed_ip", "203.0.113.9", 2)]


@pytest.mark.django_db
def test_one_summary_row_per_client_and_window(rates, frozen_clock):
    rates(bearer_failed_ip="1/m")
    refuse("203.0.113.9", 4)
    refuse("2001:db8:1:2::1", 2)
    refuse("2001:db8:1:2::2", 2)  # the same /64: the same client
    frozen_clock.now += 60
    refuse("203.0.113.9", 3)  # the next window: its own budget and its own row
    frozen_clock.now += 60
    assert limits.write_bearer_summaries() >= 1
    assert limits.write_bearer_summaries() == 0  # each window is written once
    rows = sorted(summaries(), key=lambda row: (row[1], row[2]))
    assert rows == [
        ("bearer_failed_ip", "2001:db8:1:2::", 3),
        ("bearer_failed_ip", "203.0.113.9", 2),
        ("bearer_failed_ip", "203.0.113.9", 3),
    ]


@pytest.mark.django_db
def test_the_summary_is_dated_at_the_end_of_its_window(rates, frozen_clock):
    rates(bearer_failed_ip="1/m")
    refuse("203.0.113.9", 2)
    end = limits.window_end(limits.ip_bucket("203.0.113.9"), 60, int(frozen_clock.now))
    assert limits.write_bearer_summaries(end - 1) == 0
    assert limits.write_bearer_summaries(end + 60) == 1
    row = TokenEvent.objects.get(event="rate_limited")
    assert row.created_at == datetime.fromtimestamp(end, tz=timezone.utc)


@pytest.mark.django_db
def test_the_next_refusal_of_anyone_writes_the_summary(rates, frozen_clock):
    rates(bearer_failed_ip="1/m")
    refuse("203.0.113.9", 3)
    frozen_clock.now += 120
    assert refuse("198.51.100.1", 1) == [True]
    assert summaries() == [("bearer_failed_ip", "203.0.113.9", 2)]


@pytest.mark.django_db
def test_no_database_write_per_unwritten_refusal(rates, django_assert_num_queries):
    rates(bearer_failed_ip="1/m")
    refuse("203.0.113.9", 1)
    with django_assert_num_queries(0):
        assert refuse("203.0.113.9", 50) == [False] * 50


@pytest.mark.django_db
def test_a_lost_written_mark_writes_no_summary_twice(rates, frozen_clock):
    rates(bearer_failed_ip="1/m")
    refuse("203.0.113.9", 3)
    frozen_clock.now += 120
    assert limits.write_bearer_summaries() == 1
    caches["default"].delete(limits._slot_key(60, "written"))  # evicted, say
    assert limits.write_bearer_summaries() == 0
    assert len(summaries()) == 1


@pytest.mark.django_db
def test_every_refusal_is_kept_with_limits_off(rates, settings):
    settings.RATELIMIT_ENABLE = False
    rates(bearer_failed_ip="1/m")
    assert refuse("203.0.113.9", 3) == [True, True, True]


@pytest.mark.django_db
def test_every_refusal_is_kept_when_the_cache_fails(rates, unreachable_ratelimit_cache):
    rates(bearer_failed_ip="1/m")
    assert refuse("203.0.113.9", 3) == [True, True, True]


# --- the reservation on Redis: one round trip each way -----------------------------------


@pytest.fixture
def redis_limits(settings, private_redis):
    """The counters in a Redis of the test's own (Django's RedisCache)."""
    redis = pytest.importorskip("redis")
    settings.CACHES = {
        **settings.CACHES,
        "limits": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url,
        },
    }
    settings.RATELIMIT_USE_CACHE = "limits"
    client = redis.Redis.from_url(private_redis.url)
    yield client
    client.close()


@pytest.fixture
def round_trips(monkeypatch):
    """How many times redis-py sent something to a server (a pipeline: once)."""
    from redis.connection import AbstractConnection

    sent = []
    send = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sent


@pytest.mark.redis
def test_on_redis_reservations_never_exceed_the_limit(rates, redis_limits):
    rates(failed_ip="3/h")
    held = [limits.reserve_failure("203.0.113.9") for _ in range(3)]
    for _ in range(5):
        with pytest.raises(limits.Refused):
            limits.reserve_failure("203.0.113.9")
    held[0].release()
    held[0].release()  # once only
    limits.reserve_failure("203.0.113.9")
    with pytest.raises(limits.Refused):
        limits.reserve_failure("203.0.113.9")
    (counter,) = redis_limits.keys("*")
    assert int(redis_limits.get(counter)) == 3
    assert 0 < redis_limits.ttl(counter) <= 3600 + limits.FUDGE


@pytest.mark.redis
def test_on_redis_a_reservation_and_its_release_are_one_round_trip_each(
    rates, redis_limits, round_trips
):
    rates(failed_ip="3/h")
    limits.reserve_failure("203.0.113.9").release()  # the connection is made
    round_trips.clear()

    reservation = limits.reserve_failure("203.0.113.9")
    assert len(round_trips) == 1
    reservation.release()
    assert len(round_trips) == 2


@pytest.mark.redis
def test_on_redis_a_release_after_the_window_leaves_no_counter(rates, redis_limits, frozen_clock):
    rates(failed_ip="1/m")
    reservation = limits.reserve_failure("203.0.113.9")
    redis_limits.flushdb()  # its counter expired with its window
    frozen_clock.now += 3600  # long after it

    reservation.release()

    assert redis_limits.keys("*") == []  # no counter at -1 left behind
    limits.reserve_failure("203.0.113.9")
    with pytest.raises(limits.Refused):
        limits.reserve_failure("203.0.113.9")
