/**
 * Lease scripts (lease.ts) over the keys of keys.ts `leaseKeys`. The lease value is
 * `<fence> <owner>`, so one GET compares both. Fencing numbers are
 * max(last + 1, server time in ms): they only grow, even when a Sentinel failover promoted a
 * replica that had not yet seen the last grant (the counter may be behind; time is not).
 */

/**
 * acquire(KEYS lease fence records; ARGV owner ttlMs recordsTtlMs ifKnown) → fence | nil. With
 * ifKnown '1', nothing is granted unless the last fencing number is still there (lease.ts).
 */
export const LEASE_ACQUIRE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[2]) == 0 then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
if f < now then f = now end
local fs = string.format('%d', f)
redis.call('SET', KEYS[2], fs)
redis.call('SET', KEYS[1], fs .. ' ' .. ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return fs
`;

/**
 * renew(KEYS lease fence records; ARGV owner fence ttlMs recordsTtlMs) → 1 | 0. A lease that is
 * gone (Redis restarted empty, or it lapsed) is taken again by its last holder as long as no newer
 * grant exists: nobody else can have held it in between.
 */
export const LEASE_RENEW_SCRIPT = `
local mine = ARGV[2] .. ' ' .. ARGV[1]
local v = redis.call('GET', KEYS[1])
if v and v ~= mine then return 0 end
if not v then
  if tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[2]) then return 0 end
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SET', KEYS[1], mine, 'PX', ARGV[3])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 1
`;

/** release(KEYS lease; ARGV owner fence) → 1 | 0 */
export const LEASE_RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[2] .. ' ' .. ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/** record(KEYS lease records; ARGV owner fence field value delete recordsTtlMs) → 1 | 0 */
export const LEASE_RECORD_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[2] .. ' ' .. ARGV[1] then return 0 end
if ARGV[5] == '1' then redis.call('HDEL', KEYS[2], ARGV[3]) else redis.call('HSET', KEYS[2], ARGV[3], ARGV[4]) end
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 1
`;
