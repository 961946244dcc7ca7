"""Lua scripts of the Redis backend: every multi-key write runs atomically server-side.

Key layout under a bucket prefix ``P`` (``kh`` = hash of an entry key, ``ph`` = hash of a
primary key).  On one node a namespace is one bucket; in a cluster it is many, each with
all of the keys below for the entries whose primary key falls in it (see :mod:`buckets`).
``P`` holds the namespace escaped, without ``:``, so the kinds below never meet the keys
of a namespace named like them (``a`` + ``v:<tag>`` is not namespace ``a:v``'s):

- ``P e:<kh>``   serialised (optionally encrypted) entry, expiring by Redis TTL; an entry
                 with tags is prefixed by the versions of its tags at store time:
                 ``\\0T`` + 8 hex digits of length + JSON ``[[tag, version], ...]``
- ``P v:<tag>``  the tag's current version (a random token), kept at least as long as the
                 entries recorded with it.  A read whose recorded versions differ from the
                 current ones, or finds one missing, is a miss: invalidation bumps the
                 version, so it holds even when the tag set below was evicted
- ``P p:<ph>``   hash: ``vary`` (JSON list) and ``url`` of the primary key
- ``P pv:<ph>``  set of entry hashes stored under the primary key (its Vary variants)
- ``P t:<tag>``  set of entry hashes carrying the tag;  ``P tags`` set of tag names
- ``P u``        sorted set (all scores 0) of ``<path>\\0<ph>``: lexical ranges answer
                 ``/prefix/*`` pattern invalidation without scanning the keyspace
- ``P m``        hash ``kh`` -> JSON ``{"p": ph, "t": [tags], "u": member}`` (index record)
- ``P x``        sorted set ``kh`` by expiry time, for ``purge_expired``
"""

from __future__ import annotations

# KEYS: e, p, pv, m, x, u, tags, t:<tag>...   ARGV: prefix, data, ttl_ms, vary, url, kh,
# meta, expires_at, member, ph, fresh version token, tag...
STORE = """
local prefix = ARGV[1]
local ttl = tonumber(ARGV[3])
local kh = ARGV[6]
local old = redis.call('HGET', KEYS[4], kh)
if old then
  for _, tag in ipairs(cjson.decode(old)['t']) do
    redis.call('SREM', prefix .. 't:' .. tag, kh)
  end
end
local value = ARGV[2]
if #KEYS >= 8 then
  local versions = {}
  for i = 8, #KEYS do
    local version_key = prefix .. 'v:' .. ARGV[i + 4]
    local version = redis.call('GET', version_key)
    if not version then
      version = ARGV[11]
      redis.call('SET', version_key, version, 'PX', ttl)
    elseif redis.call('PTTL', version_key) < ttl then
      redis.call('PEXPIRE', version_key, ttl)
    end
    versions[#versions + 1] = {ARGV[i + 4], version}
  end
  local header = cjson.encode(versions)
  value = '\\0T' .. string.format('%08x', #header) .. header .. value
end
redis.call('SET', KEYS[1], value, 'PX', ttl)
redis.call('HSET', KEYS[2], 'vary', ARGV[4], 'url', ARGV[5])
redis.call('SADD', KEYS[3], kh)
for i = 2, 3 do
  local cur = redis.call('PTTL', KEYS[i])
  if cur < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
redis.call('HSET', KEYS[4], kh, ARGV[7])
redis.call('ZADD', KEYS[5], ARGV[8], kh)
redis.call('ZADD', KEYS[6], 0, ARGV[9])
for i = 8, #KEYS do
  redis.call('SADD', KEYS[i], kh)
  redis.call('SADD', KEYS[7], ARGV[i + 4])
end
return 1
"""

# KEYS: e, p   ARGV: prefix   -> {value} on a hit, {false, vary record or false} otherwise
# The hit path's one round trip: the entry, checked against its tags' current versions.
FETCH = """
local value = redis.call('GET', KEYS[1])
if value then
  if string.sub(value, 1, 2) ~= '\\0T' then
    return {value}
  end
  local valid = true
  local length = tonumber(string.sub(value, 3, 10), 16)
  for _, pair in ipairs(cjson.decode(string.sub(value, 11, 10 + length))) do
    if redis.call('GET', ARGV[1] .. 'v:' .. pair[1]) ~= pair[2] then
      valid = false
      break
    end
  end
  if valid then
    return {value}
  end
end
return {false, redis.call('HGET', KEYS[2], 'vary')}
"""

# drop(prefix, kh, m, x, u) -> 1 when a live entry was removed: the entry and every index
# record of it (shared by the scripts below)
_DROP_FUNCTION = """
local function drop(prefix, kh, m, x, u)
  local removed = redis.call('DEL', prefix .. 'e:' .. kh)
  local raw = redis.call('HGET', m, kh)
  if raw then
    local meta = cjson.decode(raw)
    for _, tag in ipairs(meta['t']) do
      redis.call('SREM', prefix .. 't:' .. tag, kh)
    end
    local pv = prefix .. 'pv:' .. meta['p']
    redis.call('SREM', pv, kh)
    if redis.call('SCARD', pv) == 0 then
      redis.call('DEL', prefix .. 'p:' .. meta['p'])
      redis.call('ZREM', u, meta['u'])
    end
    redis.call('HDEL', m, kh)
  end
  redis.call('ZREM', x, kh)
  return removed
end
"""

# KEYS: m, x, u   ARGV: prefix, kh...   -> number of live entries removed
DROP = (
    _DROP_FUNCTION
    + """
local removed = 0
for i = 2, #ARGV do
  removed = removed + drop(ARGV[1], ARGV[i], KEYS[1], KEYS[2], KEYS[3])
end
return removed
"""
)

# KEYS: m, x, u   ARGV: prefix, limit, ph...   -> {live entries removed, resume at}
# Every Vary variant of each primary key (what URL and pattern invalidation drop), at most
# ``limit`` of them per call: a URL varying on a header with many values can hold thousands.
# ``resume at`` is the 0-based index of the first primary with variants possibly left, or -1
# when all are gone.  Variants are popped from the set, so each call makes progress even
# when an index record was evicted.
DROP_PRIMARIES = (
    _DROP_FUNCTION
    + """
local prefix = ARGV[1]
local limit = tonumber(ARGV[2])
local removed = 0
local taken = 0
for i = 3, #ARGV do
  local pv = prefix .. 'pv:' .. ARGV[i]
  local members = redis.call('SPOP', pv, limit - taken)
  taken = taken + #members
  for _, kh in ipairs(members) do
    removed = removed + drop(prefix, kh, KEYS[1], KEYS[2], KEYS[3])
  end
  if taken >= limit then
    if redis.call('EXISTS', pv) == 1 then
      return {removed, i - 3}
    elseif i < #ARGV then
      return {removed, i - 2}
    end
  end
end
return {removed, -1}
"""
)

# KEYS: m, x, u, tags   ARGV: prefix, limit, new version or "", tag...
#   -> {entries removed, members taken}
# With a new version, first moves every tag to it: each entry recorded under the old one is
# a miss from then on, found in the tag set or not (the set may have been evicted).  Then
# takes up to ``limit`` members out of the tag sets and drops their entries in one atomic
# step: a store (which adds its membership in the STORE script) lands either before, and is
# dropped by this or a later batch, or after, keeping its membership for the next
# invalidation.  The tag set is never deleted wholesale, so no entry loses its membership.
INVALIDATE_TAGS = (
    _DROP_FUNCTION
    + """
local prefix = ARGV[1]
local limit = tonumber(ARGV[2])
local taken = 0
local removed = 0
for i = 4, #ARGV do
  local version_key = prefix .. 'v:' .. ARGV[i]
  if ARGV[3] ~= '' and redis.call('EXISTS', version_key) == 1 then
    redis.call('SET', version_key, ARGV[3], 'KEEPTTL')
  end
  local tag_key = prefix .. 't:' .. ARGV[i]
  if taken < limit then
    local members = redis.call('SPOP', tag_key, limit - taken)
    taken = taken + #members
    for _, kh in ipairs(members) do
      removed = removed + drop(prefix, kh, KEYS[1], KEYS[2], KEYS[3])
    end
  end
  if redis.call('EXISTS', tag_key) == 0 then
    redis.call('SREM', KEYS[4], ARGV[i])
  end
end
return {removed, taken}
"""
)

# KEYS: lock   ARGV: token
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def entry_bytes(value: bytes) -> bytes:
    """The stored entry without the tag-version prefix STORE puts in front of it."""
    if value[:2] != b"\x00T":
        return value
    return value[10 + int(value[2:10], 16) :]
