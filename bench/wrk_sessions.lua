-- wrk script for bench/http_bench.py: each thread takes its share of the session tokens in
-- $BENCH_TOKENS (one per line) and sends $BENCH_METHOD $BENCH_PATH with each in turn, in the
-- X-Portal-Session header (and $BENCH_ORIGIN, if set, in Origin, as a browser sends it);
-- OPTION in $BENCH_BODY becomes one of the poll's options.
-- done() prints one machine-readable line: BENCH {json}.
local counter = 0
local nthreads = tonumber(os.getenv("BENCH_THREADS"))
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local method, path = os.getenv("BENCH_METHOD"), os.getenv("BENCH_PATH")
  local body = os.getenv("BENCH_BODY")
  local origin = os.getenv("BENCH_ORIGIN") or ""
  local n = 0
  reqs = {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if n % nthreads == id then
      local headers = {["X-Portal-Session"] = line}
      if origin ~= "" then headers["Origin"] = origin end
      if body ~= "" then
        headers["Content-Type"] = "application/json"
        local b = body:gsub("OPTION", ({"rat-tot", "tot", "binh-thuong", "chua-tot"})[n % 4 + 1])
        reqs[#reqs + 1] = wrk.format(method, path, headers, b)
      else
        reqs[#reqs + 1] = wrk.format(method, path, headers, nil)
      end
    end
    n = n + 1
  end
  i = 0
end
function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
function done(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %f, "non2xx": %d, "errors": %d, "p50": %f, "p99": %f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
