-- wrk script for bench/run: POST one JSON body, report one parseable line.
--
--   BENCH_BODY     file with the request body (required)
--   BENCH_ACCEPT   Accept header (default application/json)
--   BENCH_HEADERS  extra headers, "Name: value|Name: value"

local function env(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then
        return default
    end
    return v
end

local f = assert(io.open(env("BENCH_BODY"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = env("BENCH_ACCEPT", "application/json")

for h in string.gmatch(env("BENCH_HEADERS", ""), "[^|]+") do
    local k, v = h:match("^%s*([^:]-)%s*:%s*(.-)%s*$")
    if k then
        wrk.headers[k] = v
    end
end

function done(summary, latency, requests)
    local e = summary.errors

    io.write(string.format(
        "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%d "
        .. "status_errors=%d socket_errors=%d bytes=%d\n",
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99),
        math.floor(latency.mean),
        e.status, e.connect + e.read + e.write + e.timeout, summary.bytes))
end
