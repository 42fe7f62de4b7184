-- wrk script: POST a random JSON body from the file named by $BODIES (one body per line)
-- to the URL path in $TARGET, and print a machine-readable summary line at the end.
-- Used by bench/serve.py:  BODIES=bodies.txt TARGET=/v1/models/m/similar wrk -s bench/wrk_bodies.lua URL
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do
  bodies[#bodies + 1] = line
end
local target = os.getenv("TARGET")

request = function()
  local body = bodies[math.random(#bodies)]
  return wrk.format("POST", target, {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
