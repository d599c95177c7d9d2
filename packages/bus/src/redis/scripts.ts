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
 * publish(KEYS meta stream pubsub; ARGV candidateEpoch channel dataJson historySize historyTtlMs
 * publishCommand metaTtlMs guard) → {epoch, offset, time}
 */
export const PUBLISH_SCRIPT = `${EPOCH}
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
 * historySize guard) → {epoch, offset, status, entries?}
 *
 * status 0: cannot recover `since` (epoch differs, offset ahead, or more missed than history
 * holds); 1: nothing to read; 2: `entries` are the latest ones, newest first (XREVRANGE). With
 * `since`, the caller checks that the oldest entry is `since + 1` (age trimming may have removed it).
 */
export const HISTORY_SCRIPT = `${EPOCH}
local offset = tonumber(redis.call('HGET', meta, 'o'))
-- A channel only ever read (clients may name any channel) keeps its epoch for the history TTL, not
-- the long meta TTL, so reads of made-up channels cannot pile up keys for days.
if offset == 0 then redis.call('PEXPIRE', meta, ARGV[3]) else redis.call('PEXPIRE', meta, ARGV[2]) end
redis.call('XTRIM', stream, 'MINID', string.format('%d', now - tonumber(ARGV[3])))
local count
if ARGV[4] ~= '' then
  if ARGV[4] ~= epoch then return {epoch, offset, 0} end
  count = offset - tonumber(ARGV[5])
  if count < 0 or count > tonumber(ARGV[7]) then return {epoch, offset, 0} end
else
  count = math.min(tonumber(ARGV[6]), tonumber(ARGV[7]))
end
if count <= 0 then return {epoch, offset, 1} end
return {epoch, offset, 2, redis.call('XREVRANGE', stream, '+', '-', 'COUNT', count)}
`;
