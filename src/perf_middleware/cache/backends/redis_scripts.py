"""Lua scripts of the Redis backend: every multi-key write runs atomically server-side.

Key layout under a namespace prefix ``P`` (``kh`` = hash of an entry key, ``ph`` = hash of
a primary key):

- ``P e:<kh>``   serialised (optionally encrypted) entry, expiring by Redis TTL
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
# meta, expires_at, member, ph, tag...
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
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
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
  redis.call('SADD', KEYS[7], ARGV[i + 3])
end
return 1
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

# KEYS: m, x, u   ARGV: prefix, ph...   -> live entries removed: every Vary variant of each
# primary key (what URL and pattern invalidation drop, without a round trip per primary)
DROP_PRIMARIES = (
    _DROP_FUNCTION
    + """
local removed = 0
for i = 2, #ARGV do
  for _, kh in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'pv:' .. ARGV[i])) do
    removed = removed + drop(ARGV[1], kh, KEYS[1], KEYS[2], KEYS[3])
  end
end
return removed
"""
)

# KEYS: m, x, u, tags   ARGV: prefix, limit, tag...   -> {entries removed, members taken}
# Takes up to ``limit`` members out of the tag sets and drops their entries in one atomic
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
for i = 3, #ARGV do
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
