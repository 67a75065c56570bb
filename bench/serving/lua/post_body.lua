-- wrk script: POST the JSON file named by $WRK_BODY to the URL given on the wrk command line.
-- Copied from the peer benchmark harness (the peer harness).
-- If $WRK_JSON is set, the run's summary is also written there as JSON (latencies in us).
-- Usage: WRK_BODY=/tmp/peers/artifacts/body_1.json WRK_JSON=out.json \
--          wrk -t1 -c32 -d10s --latency -s post_body.lua http://127.0.0.1:8000/v2/models/bc/infer
local path = os.getenv("WRK_BODY")
assert(path, "set WRK_BODY to a request body file")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
-- A bearer key for servers that require one: the first line of $WRK_AUTH_FILE.
local auth_file = os.getenv("WRK_AUTH_FILE")
if auth_file then
  local h = io.open(auth_file, "r")
  if h then
    wrk.headers["Authorization"] = "Bearer " .. h:read("*l")
    h:close()
  end
end

function done(summary, latency, requests)
  local out = os.getenv("WRK_JSON")
  if not out then return end
  local e = summary.errors
  local o = assert(io.open(out, "w"))
  o:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
  o:close()
end
