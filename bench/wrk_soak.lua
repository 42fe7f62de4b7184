-- wrk script for bench/soak.py: each request is a random line "METHOD<TAB>PATH<TAB>BODY" of the file
-- named by $REQUESTS (BODY may be empty or not UTF-8); counts responses by status and prints them
-- as one machine-readable line at the end.
local reqs = {}
local f = assert(io.open(os.getenv("REQUESTS"), "rb"))
for line in f:lines() do
  local method, path, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  reqs[#reqs + 1] = {method, path, body}
end
f:close()

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

statuses = {}

request = function()
  local r = reqs[math.random(#reqs)]
  local headers = {}
  if r[3] ~= "" then headers["Content-Type"] = "application/json" end
  return wrk.format(r[1], r[2], headers, r[3] ~= "" and r[3] or nil)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local parts = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do
      parts[#parts + 1] = string.format('"%d": %d', status, n)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'SOAKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ", ")))
end
