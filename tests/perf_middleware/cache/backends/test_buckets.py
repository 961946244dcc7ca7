"""Bucket prefixes: one per namespace on a single node, evenly spread hash tags in a cluster."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from perf_middleware.cache.backends.buckets import bucket_prefixes, escape_namespace
from perf_middleware.cache.backends.redis import RedisBackend


def test_a_single_node_keeps_one_prefix_per_namespace():
    assert bucket_prefixes("pmcache", 64, cluster=False) == ("pmcache:",)


@pytest.mark.parametrize("count", [1, 3, 64, 256])
def test_each_bucket_lands_in_its_own_equal_share_of_the_slots(count):
    prefixes = bucket_prefixes("app", count, cluster=True)
    assert len(set(prefixes)) == count
    width = 16384 / count
    for bucket, prefix in enumerate(prefixes):
        assert prefix.startswith(f"{{app:{bucket}:")
        assert prefix.endswith("}:")
        # the middle half of the bucket's share of the slots
        assert (bucket + 0.25) * width - 1 <= key_slot(prefix.encode()) < (bucket + 0.75) * width


def test_buckets_split_a_three_master_cluster_evenly():
    # redis-cli --cluster create gives 3 masters the ranges 0-5460, 5461-10922, 10923-16383
    slots = [key_slot(p.encode()) for p in bucket_prefixes("pmcache", 64, cluster=True)]
    held = [
        sum(lo <= s <= hi for s in slots) for lo, hi in ((0, 5460), (5461, 10922), (10923, 16383))
    ]
    assert held == [21, 22, 21]


def test_every_process_computes_the_same_prefixes():
    assert bucket_prefixes("x", 16, cluster=True) == bucket_prefixes.__wrapped__(
        "x", 16, cluster=True
    )


@pytest.mark.parametrize("count", [0, 257])
def test_a_bucket_count_out_of_range_is_a_clear_error(count):
    with pytest.raises(ValueError, match=r"cluster_buckets=.*HINT"):
        RedisBackend("redis+cluster://127.0.0.1:1/0", cluster_buckets=count)


NAMES = ["a", "a:0", "a:v", "a%3A0", "a%", "a*", "a[b]", "a?", "a\\", "a}b", "{a", "a}", "", ":"]


def test_a_plain_namespace_is_its_own_prefix_and_others_are_escaped():
    assert escape_namespace("shop-2.eu_x") == "shop-2.eu_x"
    assert escape_namespace("a:0%{}*?[]\\") == "a%3A0%25%7B%7D%2A%3F%5B%5D%5C"
    assert bucket_prefixes("a:0", 1, cluster=False) == ("a%3A0:",)
    assert bucket_prefixes("a}b", 4, cluster=True)[0].startswith("{a%7Db:0:")


@pytest.mark.parametrize("cluster", [False, True])
def test_no_namespace_prefix_begins_another_namespaces_prefix(cluster):
    # so no key of one namespace is a key of another, and clear's MATCH "<prefix>*" (or
    # "{<name>:*" in a cluster) matches only its own namespace's keys
    prefixes = {name: bucket_prefixes(name, 3, cluster=cluster) for name in NAMES}
    for name, own in prefixes.items():
        for other, theirs in prefixes.items():
            if other != name:
                assert not any(t.startswith(o) for o in own for t in theirs), (name, other)
        for prefix in own:
            assert not set("*?[]\\") & set(prefix)
            if cluster:  # the hash tag is the whole bucket name
                assert prefix.index("}") == len(prefix) - 2
