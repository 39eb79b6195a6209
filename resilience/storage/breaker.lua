-- Shared circuit-breaker state: one hash per breaker, every decision atomic in this script.
--
-- KEYS[1]  the breaker's hash, "{namespace}:{policy}"
-- ARGV[1]  op: sync | trip | acquire | release | record
-- ARGV[2]  instance id (one per process / storage object)
-- ARGV[3]  generation the caller's local state belongs to (0 = none yet)
-- ARGV[4]  calls      (sync: the caller's local window; record: 1)
-- ARGV[5]  failures   (sync: the caller's local window; record: 1 if the call failed)
-- ARGV[6]  slow       (sync: the caller's local window; record: 1 if the call was slow)
-- ARGV[7]  failure_rate_threshold (0..1)
-- ARGV[8]  slow_call_rate_threshold (0..1; above 1 = off)
-- ARGV[9]  minimum_calls
-- ARGV[10] half_open_calls (permits per half-open episode, fleet-wide)
-- ARGV[11] open durations in seconds for the 1st, 2nd, ... consecutive open, comma separated
--          (the last one repeats)
-- ARGV[12] stale_after: seconds after which an instance's window counts no longer count
-- ARGV[13] half_open_lease: seconds after which an unfinished half-open episode starts again
-- ARGV[14] key TTL in seconds (refreshed on every write)
-- ARGV[15] probes that must finish before half-open decides (the breaker's own rule)
--
-- Hash fields: state, gen, open_until, open_count, ho_granted, ho_done, ho_failed, ho_slow,
-- ho_since, and "w:<instance>" = "calls failures slow gen ts" per instance.
--
-- Returns {state, gen, open_remaining (string, seconds), open_count, calls, failures, slow, granted}
-- where calls/failures/slow are the fleet's merged window and granted is 1 when `acquire` granted
-- a half-open permit. Time is the Redis server's clock, so hosts need not agree on theirs.

-- Redis < 5 replicates scripts verbatim, which TIME forbids: replicate their effects instead.
if redis.replicate_commands then redis.replicate_commands() end

local key = KEYS[1]
local op = ARGV[1]
local instance = ARGV[2]
local seen_gen = tonumber(ARGV[3])
local calls = tonumber(ARGV[4])
local failures = tonumber(ARGV[5])
local slow = tonumber(ARGV[6])
local failure_threshold = tonumber(ARGV[7])
local slow_threshold = tonumber(ARGV[8])
local minimum_calls = tonumber(ARGV[9])
local half_open_calls = tonumber(ARGV[10])
local open_durations = ARGV[11]
local stale_after = tonumber(ARGV[12])
local half_open_lease = tonumber(ARGV[13])
local ttl = tonumber(ARGV[14])
local half_open_minimum = tonumber(ARGV[15])

local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6

local raw = redis.call('HGETALL', key)
local h = {}
local windows = {}
for i = 1, #raw, 2 do
  local field = raw[i]
  if string.sub(field, 1, 2) == 'w:' then
    windows[field] = raw[i + 1]
  else
    h[field] = raw[i + 1]
  end
end

local state = h['state'] or 'closed'
-- A new key (first use, or Redis lost its data) starts at the server's time in ms, so the
-- generation keeps growing across restarts and instances notice the fleet state was reset.
local gen = tonumber(h['gen'] or '0')
if gen == 0 then gen = math.floor(now * 1000) end
local open_until = tonumber(h['open_until'] or '0')
local open_count = tonumber(h['open_count'] or '0')
local ho_granted = tonumber(h['ho_granted'] or '0')
local ho_done = tonumber(h['ho_done'] or '0')
local ho_failed = tonumber(h['ho_failed'] or '0')
local ho_slow = tonumber(h['ho_slow'] or '0')
local ho_since = tonumber(h['ho_since'] or '0')
local granted = 0

local function open_duration(n)
  local i = 0
  local last = 60
  for part in string.gmatch(open_durations, '[^,]+') do
    i = i + 1
    last = tonumber(part)
    if i == n then return last end
  end
  return last
end

local function clear_windows()
  for field, _ in pairs(windows) do
    redis.call('HDEL', key, field)
  end
  windows = {}
end

local function reset_half_open()
  ho_granted = 0; ho_done = 0; ho_failed = 0; ho_slow = 0
end

local function to_open()
  state = 'open'
  gen = gen + 1
  open_count = open_count + 1
  open_until = now + open_duration(open_count)
  reset_half_open()
  clear_windows()
end

local function to_closed()
  state = 'closed'
  gen = gen + 1
  open_count = 0
  open_until = 0
  reset_half_open()
  clear_windows()
end

local function to_half_open()
  state = 'half_open'
  gen = gen + 1
  ho_since = now
  reset_half_open()
end

-- Rates are compared with >=, as the local breaker does.
local function over_threshold(n, failed, slowed)
  if n <= 0 then return false end
  if failed / n >= failure_threshold then return true end
  if slow_threshold <= 1 and slowed / n >= slow_threshold then return true end
  return false
end

-- A half-open episode whose permit holders vanished (crashed, partitioned) starts over.
if state == 'half_open' and now - ho_since > half_open_lease then
  state = 'open'
  gen = gen + 1
  open_until = now
  reset_half_open()
end

local sum_calls, sum_failures, sum_slow = 0, 0, 0

if op == 'sync' then
  local field = 'w:' .. instance
  if seen_gen == gen and state == 'closed' then
    windows[field] = calls .. ' ' .. failures .. ' ' .. slow .. ' ' .. gen .. ' ' .. now
    redis.call('HSET', key, field, windows[field])
  elseif windows[field] then
    -- Counts from before the last transition belong to a window that no longer exists.
    redis.call('HDEL', key, field)
    windows[field] = nil
  end
  for f, v in pairs(windows) do
    local c, fl, s, g, ts = string.match(v, '(%S+) (%S+) (%S+) (%S+) (%S+)')
    if tonumber(ts) < now - stale_after or tonumber(g) ~= gen then
      redis.call('HDEL', key, f)
    else
      sum_calls = sum_calls + tonumber(c)
      sum_failures = sum_failures + tonumber(fl)
      sum_slow = sum_slow + tonumber(s)
    end
  end
  if state == 'closed' and sum_calls >= minimum_calls
      and over_threshold(sum_calls, sum_failures, sum_slow) then
    to_open()
  end
elseif op == 'trip' then
  -- The caller's own window tripped: the fleet opens, unless it moved on since the caller last
  -- looked (0: the caller tripped before its first sync).
  if (seen_gen == gen or seen_gen == 0) and (state == 'closed' or state == 'half_open') then
    to_open()
  end
elseif op == 'acquire' then
  if state == 'open' and now >= open_until then
    to_half_open()
  end
  if state == 'half_open' and ho_granted < half_open_calls then
    ho_granted = ho_granted + 1
    granted = 1
  end
elseif op == 'release' then
  -- A permit holder was cancelled: its permit goes back to the fleet.
  if seen_gen == gen and state == 'half_open' and ho_granted > ho_done then
    ho_granted = ho_granted - 1
  end
elseif op == 'record' then
  if seen_gen == gen and state == 'half_open' then
    ho_done = ho_done + 1
    ho_failed = ho_failed + failures
    ho_slow = ho_slow + slow
    -- Decide once as many probes finished as the local breaker would need.
    if ho_done >= half_open_minimum then
      if over_threshold(ho_done, ho_failed, ho_slow) then
        to_open()
      else
        to_closed()
      end
    end
  end
else
  return redis.error_reply('unknown op ' .. op)
end

redis.call('HSET', key, 'state', state, 'gen', gen, 'open_until', string.format('%.6f', open_until),
  'open_count', open_count, 'ho_granted', ho_granted, 'ho_done', ho_done,
  'ho_failed', ho_failed, 'ho_slow', ho_slow, 'ho_since', string.format('%.6f', ho_since))
local remaining = 0
if state == 'open' and open_until > now then remaining = open_until - now end
-- Never shorten a TTL another writer (e.g. the token bucket on the same key) set longer.
local ttl_ms = math.floor((ttl + remaining) * 1000)
if redis.call('PTTL', key) < ttl_ms then redis.call('PEXPIRE', key, ttl_ms) end

return {state, gen, string.format('%.6f', remaining), open_count,
        sum_calls, sum_failures, sum_slow, granted}
