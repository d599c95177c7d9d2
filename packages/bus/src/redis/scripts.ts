/**
 * Lua scripts run atomically on the Redis node that owns the channel's slot. KEYS are the channel's
 * meta hash, stream and (publish) pub/sub channel; all share one hash tag (keys.ts).
 *
 * Numbers are formatted with `%d`: Lua 5.1 prints doubles with 14 significant digits, which would
 * round large offsets and times.
 */

/**
 * Shared prologue: read-or-create the epoch. A new epoch drops any stale stream left behind.
 *
 * ARGV[8] is the failover guard: the replication id of the master that runs the script. A channel whose meta was written under another replication id was written by a
 * previous master (failover) or a previous life of this one (restart from an older snapshot): its
 * last publications may be lost and offsets would be reused for different data. Such a channel
 * gets a new epoch, so clients are told.
 */
const EPOCH = `
local meta, stream = KEYS[1], KEYS[2]
local guard = ARGV[8]
local epoch = redis.call('HGET', meta, 'e')
if epoch and guard ~= '' and redis.call('HGET', meta, 'r') ~= guard then epoch = false end
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', stream, meta)
  redis.call('HSET', meta, 'e', epoch, 'o', 0, 'r', guard)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Fencing (lease.ts): ARGV[9] is the publisher's fencing number, or '' for an unfenced publish. The
 * meta hash's `f` keeps the largest number the channel has taken; a smaller one is refused before
 * anything is written. It is read before the epoch prologue, which may reset the hash.
 */
const FENCE = `
local fence = ARGV[9]
if fence ~= '' then
  local seen = redis.call('HGET', KEYS[1], 'f')
  if seen and tonumber(seen) > tonumber(fence) then return redis.error_reply('FENCED ' .. seen) end
end
`;

/**
 * publish(KEYS meta stream pubsub; ARGV candidateEpoch channel dataJson historySize historyTtlMs
 * publishCommand metaTtlMs guard fence) → {epoch, offset, time}, or the error `FENCED <newer>`
 */
export const PUBLISH_SCRIPT = `${FENCE}${EPOCH}
if fence ~= '' then redis.call('HSET', meta, 'f', fence) end
local offset = redis.call('HINCRBY', meta, 'o', 1)
redis.call('PEXPIRE', meta, ARGV[7])
local os = string.format('%d', offset)
local ts = string.format('%d', now)
local frame = '{"op":"message","channel":"' .. ARGV[2] .. '","offset":' .. os .. ',"ts":' .. ts .. ',"data":' .. ARGV[3] .. '}'
local size = tonumber(ARGV[4])
if size > 0 then
  redis.call('XADD', stream, 'MAXLEN', size, '*', 'o', os, 't', ts, 'f', frame)
  redis.call('XTRIM', stream, 'MINID', string.format('%d', now - tonumber(ARGV[5])))
  redis.call('PEXPIRE', stream, ARGV[5])
else
  redis.call('DEL', stream)
end
redis.call(ARGV[6], KEYS[3], epoch .. ' ' .. os .. ' ' .. ts .. '\\n' .. frame)
return {epoch, offset, now}
`;

/**
 * history(KEYS meta stream; ARGV candidateEpoch metaTtlMs historyTtlMs sinceEpoch sinceOffset count
 * historySize guard maxBytes) → {epoch, offset, status, entries?}
 *
 * status 0: cannot recover `since` (epoch differs, offset ahead, or history no longer starts at
 * `since + 1`); 1: nothing to read; 2: `entries`, oldest first: from `since + 1` (or the latest
 * `count`), at most `count` of them, cut where their frames would pass `maxBytes` (at least one).
 *
 * Stream entries hold consecutive offsets (trimming only ever removes the oldest), so the entry of
 * an offset is found by counting from the nearer end of the stream, a page at a time; only the
 * page the caller can take is sent back.
 */
export const HISTORY_SCRIPT = `${EPOCH}
local offset = tonumber(redis.call('HGET', meta, 'o'))
-- A channel only ever read (clients may name any channel) keeps its epoch for the history TTL, not
-- the long meta TTL, so reads of made-up channels cannot pile up keys for days.
if offset == 0 then redis.call('PEXPIRE', meta, ARGV[3]) else redis.call('PEXPIRE', meta, ARGV[2]) end
redis.call('XTRIM', stream, 'MINID', string.format('%d', now - tonumber(ARGV[3])))
local first = offset - redis.call('XLEN', stream) + 1
local from, to, since
if ARGV[4] ~= '' then
  if ARGV[4] ~= epoch then return {epoch, offset, 0} end
  since = tonumber(ARGV[5])
  if since > offset or since + 1 < first then return {epoch, offset, 0} end
  from = since + 1
  to = math.min(offset, since + tonumber(ARGV[6]))
else
  from = math.max(first, offset - math.min(tonumber(ARGV[6]), tonumber(ARGV[7])) + 1)
  to = offset
end
if from > to then return {epoch, offset, 1} end
local PAGE = 128
local function offsetOf(entry)
  local f = entry[2]
  for i = 1, #f, 2 do if f[i] == 'o' then return tonumber(f[i + 1]) end end
  return -1
end
local function frameBytes(entry)
  local f = entry[2]
  for i = 1, #f, 2 do if f[i] == 'f' then return #f[i + 1] end end
  return 0
end
-- the entry holding offset "from": pass "skip" entries from the nearer end
local cmd, cursor, skip = 'XRANGE', '-', from - first
if offset - from < skip then cmd, cursor, skip = 'XREVRANGE', '+', offset - from end
local id
while true do
  local page
  if cmd == 'XRANGE' then page = redis.call(cmd, stream, cursor, '+', 'COUNT', math.min(skip + 1, PAGE))
  else page = redis.call(cmd, stream, cursor, '-', 'COUNT', math.min(skip + 1, PAGE)) end
  if #page == 0 then break end
  if skip < #page then
    if offsetOf(page[skip + 1]) == from then id = page[skip + 1][1] end
    break
  end
  skip = skip - #page
  cursor = '(' .. page[#page][1]
end
if not id then
  if since then return {epoch, offset, 0} end
  return {epoch, offset, 1}
end
local budget = tonumber(ARGV[9])
local out, n, bytes = {}, 0, 0
local want = to - from + 1
cursor = id
while n < want do
  local page = redis.call('XRANGE', stream, cursor, '+', 'COUNT', math.min(want - n, PAGE))
  if #page == 0 then break end
  for i = 1, #page do
    local size = frameBytes(page[i])
    if n > 0 and bytes + size > budget then return {epoch, offset, 2, out} end
    bytes = bytes + size
    n = n + 1
    out[n] = page[i]
  end
  cursor = '(' .. page[#page][1]
end
return {epoch, offset, 2, out}
`;
