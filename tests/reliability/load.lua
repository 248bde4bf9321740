-- The load test's mix for wrk (tests/reliability/test_load.py): 60% browsing, 20% searching,
-- 15% orders and 5% ratings through the API with the buyers' and sellers' bearer tokens.
--
-- Environment: LOAD_PLAN (the plan tests/reliability/load.py writes: one tab-separated line per
-- path, order or rating), LOAD_THREADS (wrk's -t) and LOAD_OUT. Each thread has one connection
-- (-c = -t), so its answers come in the order of its requests and response() knows which request
-- it answers. Each thread writes LOAD_OUT.<n>: a "sent" line per request (number, kind, who,
-- target, path) and an "answer" line per response (number, kind, status, microseconds on the
-- monotonic clock, and the body of an acknowledged write); a request with no answer line was
-- left unanswered. done() writes wrk's own totals and latency percentiles to LOAD_OUT.

-- The monotonic clock through LuaJIT's FFI (wrk's Lua); without it, no per-type times (-1).
local now_us = function()
  return -1
end
local has_ffi, ffi = pcall(require, "ffi")
if has_ffi then
  ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } load_timespec;
  int clock_gettime(int clock_id, load_timespec *tp);
  ]])
  local CLOCK_MONOTONIC = 1
  local clock = ffi.new("load_timespec")
  now_us = function()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
    return tonumber(clock.tv_sec) * 1000000 + math.floor(tonumber(clock.tv_nsec) / 1000)
  end
end

local JSON = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
local ORDER_BODY = '{"message": "周末可以当面交易吗？"}'
local SCORES = {
  buyer = '{"scores": {"accuracy": %d, "communication": %d, "punctuality": 5}, "comment": "东西和描述一致，交易顺利。"}',
  seller = '{"scores": {"punctuality": %d, "communication": %d}, "comment": "买家准时，沟通愉快。"}',
}

-- main state, before the run ---------------------------------------------------------------

local started_threads = 0

function setup(thread)
  started_threads = started_threads + 1
  thread:set("tid", started_threads)
end

-- each thread --------------------------------------------------------------------------------

local function fields(line)
  local out = {}
  for value in (line .. "\t"):gmatch("([^\t]*)\t") do
    out[#out + 1] = value
  end
  return out
end

function init(args)
  local nthreads = tonumber(os.getenv("LOAD_THREADS"))
  math.randomseed(1000 + tid)
  browse, search, orders, ratings = {}, {}, {}, {}
  local n_order, n_rate = 0, 0
  for line in io.lines(os.getenv("LOAD_PLAN")) do
    local f = fields(line)
    if f[1] == "browse" then
      browse[#browse + 1] = f[2]
    elseif f[1] == "search" then
      search[#search + 1] = f[2]
    elseif f[1] == "order" then
      -- this thread's share: every nthreads-th order, so that no two threads send the same one
      if n_order % nthreads == tid - 1 then
        orders[#orders + 1] = f
      end
      n_order = n_order + 1
    elseif f[1] == "rate" then
      if n_rate % nthreads == tid - 1 then
        ratings[#ratings + 1] = f
      end
      n_rate = n_rate + 1
    end
  end
  next_order, next_rate, sent = 0, 0, 0
  -- The thread's own record, a line per request sent and per answer, written as it goes (line
  -- buffered: what was written is on disk even if wrk died). Not thread:get() in done(): wrk
  -- copies values between its Lua states unreliably (nested tables crash it).
  log = assert(io.open(os.getenv("LOAD_OUT") .. "." .. tid, "w"))
  log:setvbuf("line")
  current = nil
  verified = tid ~= 1
end

local function cycle(list, index)
  return list[(index % #list) + 1]
end

local function post(path, token, body)
  local headers = { Authorization = "Bearer " .. token }
  for k, v in pairs(JSON) do
    headers[k] = v
  end
  return wrk.format("POST", path, headers, body)
end

function request()
  if browse == nil or not verified then
    -- wrk calls request() once before the run, in the first thread (or the main state, where no
    -- plan is loaded), to count the requests it returns, and never sends that one: not a request
    -- of the mix. (Should it be sent after all, its answer is not recorded: nothing is current.)
    verified = true
    return wrk.format("GET", "/healthz")
  end
  local roll = math.random(100)
  local kind, path, who, target, req
  if roll <= 60 or (roll > 80 and roll <= 95 and #orders == 0) or (roll > 95 and #ratings == 0) then
    kind, path = "browse", browse[math.random(#browse)]
    req = wrk.format("GET", path)
  elseif roll <= 80 then
    kind, path = "search", search[math.random(#search)]
    req = wrk.format("GET", path)
  elseif roll <= 95 then
    -- in plan order; past the end of its share a thread starts again (409: asked already)
    local o = cycle(orders, next_order)
    next_order = next_order + 1
    kind, who, target = "order", o[2], o[4]
    path = "/api/v1/listings/" .. target .. "/orders"
    req = post(path, o[3], ORDER_BODY)
  else
    local r = cycle(ratings, next_rate)
    next_rate = next_rate + 1
    kind, who, target = "rate", r[2], r[4]
    path = "/api/v1/orders/" .. target .. "/ratings"
    req = post(path, r[3], string.format(SCORES[r[5]], math.random(3, 5), math.random(3, 5)))
  end
  sent = sent + 1
  current = { n = sent, kind = kind }
  log:write(table.concat({ "sent", sent, kind, who or "", target or "", path }, "\t"), "\n")
  started = now_us()
  return req
end

function response(status, headers, body)
  local elapsed = started < 0 and -1 or now_us() - started
  local c = current
  if c == nil then
    return
  end
  current = nil
  local line = { "answer", c.n, c.kind, status, elapsed }
  if (c.kind == "order" or c.kind == "rate") and status >= 200 and status < 300 then
    -- the API's JSON has no raw tab or newline inside: the body goes on the line as it is
    line[#line + 1] = (body:gsub("%s+$", ""))
  end
  log:write(table.concat(line, "\t"), "\n")
end

-- main state, at the end --------------------------------------------------------------------

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("LOAD_OUT"), "w"))
  local e = summary.errors
  out:write(string.format("summary\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, summary.bytes))
  out:write(string.format("latency\t%d\t%d\t%d\t%d\t%d\t%.1f\n", latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
  out:close()
end
