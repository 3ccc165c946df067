-- wrk script for docs/benchmarks/bench_requests.py: each request takes the next
-- path from a file (so a run rotates over many case codes), optionally with a
-- method and a body; counts answers outside 2xx; prints the figures as JSON.
--
--   wrk -t2 -c16 -d10s --latency -s rotate.lua http://127.0.0.1:PORT -- PATHS [METHOD] [BODY_FILE]
--
-- PATHS: one path (with its query string) a line. BODY_FILE: sent as is, with
-- every "{n}" replaced by a number unique to the request (thread * 10^7 + count),
-- so that each POST is a different submission. Headers (cookie, bearer token,
-- content type) come from wrk's -H options.

local paths = {}
local method = "GET"
local body = nil
local counter = 0
non2xx, n3xx, n4xx, n5xx = 0, 0, 0, 0
local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   local file = assert(io.open(args[1], "r"))
   for line in file:lines() do
      if #line > 0 then
         paths[#paths + 1] = line
      end
   end
   file:close()
   assert(#paths > 0, "no paths in " .. args[1])
   method = args[2] or "GET"
   if args[3] then
      local b = assert(io.open(args[3], "r"))
      body = b:read("*a")
      b:close()
   end
   -- threads start at different places in the list
   counter = ((id or 1) - 1) * math.floor(#paths / 2)
end

function request()
   counter = counter + 1
   local path = paths[(counter % #paths) + 1]
   local payload = nil
   if body then
      payload = (body:gsub("{n}", tostring((id or 1) * 10000000 + counter)))
   end
   return wrk.format(method, path, nil, payload)
end

function response(status, headers, content)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if status >= 500 then n5xx = n5xx + 1 elseif status >= 400 then n4xx = n4xx + 1
      elseif status >= 300 then n3xx = n3xx + 1 end
   end
end

function done(summary, latency, requests)
   local bad, b3, b4, b5 = 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      bad = bad + (thread:get("non2xx") or 0)
      b3 = b3 + (thread:get("n3xx") or 0)
      b4 = b4 + (thread:get("n4xx") or 0)
      b5 = b5 + (thread:get("n5xx") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, "3xx": %d, "4xx": %d, "5xx": %d, "connect_errors": %d, ' ..
      '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, ' ..
      '"p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.bytes, bad, b3, b4, b5, e.connect, e.read, e.write, e.status,
      e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(95),
      latency:percentile(99), latency.max, latency.mean))
end
