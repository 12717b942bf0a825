-- wrk script of the load benchmark: POSTs pre-made gzip batches to /v1/batch, cycling through them.
--   wrk ... -s batch.lua URL -- DIR COUNT [DELAY_MS [GAPS]]
-- DIR/NNNN.gz are the bodies (gen.py), or DIR/NNNN.json sent uncompressed (variants.py's `-plain` sets, as
-- analytics.js posts from a browser); each thread starts at a different one. With DELAY_MS > 0 every
-- connection waits after each answer before its next request (a paced, not saturating, load): exactly
-- DELAY_MS with GAPS=fixed (the default), or a random gap drawn from the exponential law of mean
-- DELAY_MS with GAPS=random, so that the connections' requests arrive independently, as many clients'
-- do, instead of in the bursts that connections started together keep.
-- done() prints one machine-readable line: RESULT requests=... p50_us=... p99_us=...

local requests_ = {}
local index = 0
local delay_ms = 0

function init(args)
  local dir = args[1]
  local count = tonumber(args[2])
  delay_ms = tonumber(args[3] or "0")
  local gaps = args[4] or "fixed"
  local headers = {
    ["Content-Type"] = "application/json",
    ["Content-Encoding"] = "gzip",
    -- base64("bench-write-key:"), as the SDKs send the write key
    ["Authorization"] = "Basic YmVuY2gtd3JpdGUta2V5Og==",
    ["User-Agent"] = "analytics-node-next/latest (consentgate load benchmark)",
  }
  local plain = io.open(string.format("%s/0000.json", dir), "rb")
  if plain then
    plain:close()
    headers["Content-Encoding"] = nil
  end
  for i = 0, count - 1 do
    local file = assert(io.open(string.format(plain and "%s/%04d.json" or "%s/%04d.gz", dir, i), "rb"))
    local body = file:read("*a")
    file:close()
    requests_[#requests_ + 1] = wrk.format("POST", "/v1/batch", headers, body)
  end
  index = math.random(#requests_)
  if delay_ms > 0 and gaps == "random" then
    math.randomseed(os.time() + index)
    delay = function() return math.floor(-delay_ms * math.log(1 - math.random()) + 0.5) end
  elseif delay_ms > 0 then
    delay = function() return delay_ms end
  end
end

function request()
  index = index % #requests_ + 1
  return requests_[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
