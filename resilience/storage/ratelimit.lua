-- Shared token bucket: one bucket per policy, refilled continuously at `rate` tokens per second up
-- to `burst`. A caller may reserve tokens that are not there yet (the bucket goes negative) when the
-- wait for them is within its `max_wait`; the reservation is what keeps the fleet at `rate`.
--
-- KEYS[1]  the policy's hash, "{namespace}:{policy}" (fields rl_tokens, rl_ts)
-- ARGV[1]  rate (tokens per second, > 0)
-- ARGV[2]  burst (bucket capacity, >= 1)
-- ARGV[3]  tokens wanted (>= 1)
-- ARGV[4]  max_wait (seconds the caller accepts to wait for its tokens)
-- ARGV[5]  key TTL in seconds (refreshed on every write)
--
-- Returns {granted (1|0), wait (string, seconds)}: granted → sleep `wait` then call (0 = now);
-- refused → `wait` is when the tokens would be there (the caller's retry_after).

-- Redis < 5 replicates scripts verbatim, which TIME forbids: replicate their effects instead.
if redis.replicate_commands then redis.replicate_commands() end

local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])

local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6

local stored = redis.call('HMGET', key, 'rl_tokens', 'rl_ts')
local tokens = tonumber(stored[1] or '') or burst
local ts = tonumber(stored[2] or '') or now
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
end

local wait = 0
if tokens < wanted then wait = (wanted - tokens) / rate end
local granted = 0
if wait <= max_wait then
  granted = 1
  tokens = tokens - wanted
end

redis.call('HSET', key, 'rl_tokens', string.format('%.6f', tokens), 'rl_ts', string.format('%.6f', now))
local ttl_ms = math.floor(ttl * 1000)
if redis.call('PTTL', key) < ttl_ms then redis.call('PEXPIRE', key, ttl_ms) end
return {granted, string.format('%.6f', wait)}
