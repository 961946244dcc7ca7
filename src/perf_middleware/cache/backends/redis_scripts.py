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

# KEYS: m, x, u   ARGV: prefix, kh...   -> number of live entries removed
DROP = """
local prefix = ARGV[1]
local removed = 0
for i = 2, #ARGV do
  local kh = ARGV[i]
  removed = removed + redis.call('DEL', prefix .. 'e:' .. kh)
  local raw = redis.call('HGET', KEYS[1], kh)
  if raw then
    local meta = cjson.decode(raw)
    for _, tag in ipairs(meta['t']) do
      redis.call('SREM', prefix .. 't:' .. tag, kh)
    end
    local pv = prefix .. 'pv:' .. meta['p']
    redis.call('SREM', pv, kh)
    if redis.call('SCARD', pv) == 0 then
      redis.call('DEL', prefix .. 'p:' .. meta['p'])
      redis.call('ZREM', KEYS[3], meta['u'])
    end
    redis.call('HDEL', KEYS[1], kh)
  end
  redis.call('ZREM', KEYS[2], kh)
end
return removed
"""

# KEYS: lock   ARGV: token
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
