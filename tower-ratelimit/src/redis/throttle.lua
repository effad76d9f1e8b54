-- Failed authentications of one request's counters (its client address, its claimed
-- identity), GCRA capped at a full bucket so that a flood is forgotten `burst` intervals
-- after it stops. Time is Redis's own (TIME), in microseconds.
--
-- KEYS[i]: the theoretical arrival time of counter i.
-- ARGV[1]: 1 to count one failure against every counter, 0 to look only.
-- ARGV[2i], ARGV[2i + 1]: interval_us and tolerance_us of counter i.
-- Returns per counter: wait_us (until one more failure would conform; 0: now), then
-- reset_us (until the counter is empty), after the failure when one is counted.
local record = ARGV[1] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i = 1, #KEYS do
  local iv = tonumber(ARGV[2 * i])
  local tol = tonumber(ARGV[2 * i + 1])
  local tat = math.max(tonumber(redis.call('GET', KEYS[i])) or now, now)
  if record then
    tat = math.min(tat + iv, now + tol)
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX',
      math.ceil((tat - now) / 1000) + 1)
  end
  out[#out + 1] = string.format('%.0f', math.max(tat + iv - tol - now, 0))
  out[#out + 1] = string.format('%.0f', tat - now)
end
return out
