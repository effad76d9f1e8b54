-- One atomic lease of up to `want` requests for one identity, against every limit (GCRA)
-- and the quota at once. Time is Redis's own (TIME), in microseconds.
--
-- KEYS[1..n]: a GCRA theoretical arrival time per limit; KEYS[n+1]: the quota's spent
-- credits for the current period (optional).
-- ARGV: want, min (grant nothing below this), returned (an expired lease's unused
-- requests, credited back first), n, then interval_us and tolerance_us per limit, then
-- the quota's credits and the Unix second its key expires (0: never).
-- Returns: granted, wait_us (until `min` would be granted; -1: the quota is spent),
-- then remaining and reset_us per limit, then the quota's remaining.
local want = tonumber(ARGV[1])
local min = tonumber(ARGV[2])
local returned = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local grant = want
local tats = {}
for i = 1, n do
  local iv = tonumber(ARGV[3 + 2 * i])
  local tol = tonumber(ARGV[4 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  tat = math.max(tat - returned * iv, now)
  tats[i] = tat
  local avail = math.floor((now + tol - tat) / iv)
  if avail < grant then grant = avail end
end

local has_quota = #KEYS > n
local credits, expire_at, used = 0, 0, 0
if has_quota then
  credits = tonumber(ARGV[5 + 2 * n])
  expire_at = tonumber(ARGV[6 + 2 * n])
  used = math.max((tonumber(redis.call('GET', KEYS[n + 1])) or 0) - returned, 0)
  local left = credits - used
  if left < grant then grant = left end
  if left < min then min = left end
end
if grant < 1 or grant < min then grant = 0 end

local wait = 0
if grant == 0 then
  if has_quota and credits - used <= 0 then
    wait = -1
  else
    local need = math.max(min, 1)
    for i = 1, n do
      local iv = tonumber(ARGV[3 + 2 * i])
      local tol = tonumber(ARGV[4 + 2 * i])
      local w = tats[i] + need * iv - tol - now
      if w > wait then wait = w end
    end
  end
end

local out = { grant, string.format('%.0f', wait) }
for i = 1, n do
  local iv = tonumber(ARGV[3 + 2 * i])
  local tol = tonumber(ARGV[4 + 2 * i])
  local tat = tats[i] + grant * iv
  if grant > 0 or returned > 0 then
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX',
      math.ceil((tat - now) / 1000) + 1000)
  end
  out[#out + 1] = math.floor((now + tol - tat) / iv)
  out[#out + 1] = string.format('%.0f', tat - now)
end
if has_quota then
  used = used + grant
  if grant > 0 or returned > 0 then
    if expire_at > 0 then
      redis.call('SET', KEYS[n + 1], used, 'EXAT', expire_at)
    else
      redis.call('SET', KEYS[n + 1], used)
    end
  end
  out[#out + 1] = credits - used
end
return out
