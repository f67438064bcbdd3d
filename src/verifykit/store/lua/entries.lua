-- Shared entries (verifykit.store._entries): opaque values under opaque tags, in bucket hashes,
-- with one change stream per partition. Every key of a call shares the partition's hash tag.
--
-- KEYS[1] the partition's change stream, KEYS[2] its cut (the newest entry id trimming removed),
-- KEYS[3] a bucket hash (write)
-- ARGV[1] write | poll | head, ARGV[2] the stream's retention in milliseconds
--   write:  ARGV[3] bucket number, then per change: tag, p (put) or d (delete), value (or "")
--           -> {existed 0|1, entry id (or "": a delete of an absent tag), ...} one pair a change
--   poll:   ARGV[3] last id read, ARGV[4] most entries, ARGV[5] bucket key prefix
--           -> {cut, last id read now, tag, value or "", tag, value or "", ...}
--   head:   -> the id a reader starting from a snapshot taken now starts after

local stream, cut = KEYS[1], KEYS[2]
local mode, retention = ARGV[1], tonumber(ARGV[2])

-- Entries older than the retention leave the stream; the cut records the newest one removed, so a
-- reader still behind it knows it missed changes (and rebuilds) instead of silently skipping them.
local function trim()
  local now = redis.call('TIME')
  local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - retention
  if cutoff <= 0 then
    return
  end
  local bound = string.format('%d-0', cutoff)
  local newest = redis.call('XREVRANGE', stream, '(' .. bound, '-', 'COUNT', 1)
  if #newest > 0 then
    redis.call('SET', cut, newest[1][1])
    redis.call('XTRIM', stream, 'MINID', bound)
  end
end

if mode == 'write' then
  -- The entry names the tag and its bucket, never the value: a reader fetches the value as it is
  -- when it reads, so an erased template lives on nowhere in the stream.
  local bucket, out = ARGV[3], {}
  for i = 4, #ARGV, 3 do
    local tag, op, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local existed
    if op == 'p' then
      existed = redis.call('HSET', KEYS[3], tag, value) == 0
    else
      existed = redis.call('HDEL', KEYS[3], tag) == 1
    end
    out[#out + 1] = existed and 1 or 0
    if op == 'p' or existed then
      out[#out + 1] = redis.call('XADD', stream, '*', 't', tag, 'b', bucket)
    else
      out[#out + 1] = ''  -- nothing changed: nothing to tell the readers
    end
  end
  trim()
  return out
end

if mode == 'poll' then
  trim()
  local after, count, prefix = ARGV[3], tonumber(ARGV[4]), ARGV[5]
  local out = {redis.call('GET', cut) or '0-0', after}
  local entries = redis.call('XRANGE', stream, '(' .. after, '+', 'COUNT', count)
  local seen = {}
  for _, entry in ipairs(entries) do
    out[2] = entry[1]
    local fields = entry[2]
    local tag, bucket = fields[2], fields[4]
    if not seen[tag] then
      seen[tag] = true
      out[#out + 1] = tag
      out[#out + 1] = redis.call('HGET', prefix .. bucket, tag) or ''
    end
  end
  return out
end

if mode == 'head' then
  local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if #newest > 0 then
    return newest[1][1]
  end
  return redis.call('GET', cut) or '0-0'
end

return redis.error_reply('unknown mode ' .. tostring(mode))
