-- A fresh credential per request: args = path, header name, value prefix, file with one
-- credential a line. The requests are formatted once, before wrk starts its clock. When
-- the file runs out it starts over and counts the reuse, which the harness refuses.
local reqs, n, sent = {}, 0, 0
reused = 0 -- global: done() reads it with thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path, name, prefix, file = args[1], args[2], args[3], args[4]
  for line in io.lines(file) do
    n = n + 1
    reqs[n] = wrk.format("GET", path, { [name] = prefix .. line })
  end
end

function request()
  sent = sent + 1
  if sent > n then
    reused = sent - n
  end
  return reqs[(sent - 1) % n + 1]
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("reused")
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout, total))
end
