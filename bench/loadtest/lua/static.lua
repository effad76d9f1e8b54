-- One fixed request (headers from wrk -H). Prints one machine-readable line at the end:
-- RESULT requests duration_us p50_us p99_us non2xx connect read write timeout reused
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout, 0))
end
