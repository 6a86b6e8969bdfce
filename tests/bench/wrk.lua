-- SPDX-License-Identifier: ISC
--
-- wrk script of tests/bench/run (bench.py): one kind of request per run,
-- named by the environment, BENCH_MODE, with BENCH_FILE a file of inputs:
--
--   refresh  POST {"refresh_token"} with the token of line N for thread N,
--            then each time the token the previous answer gave: a chain
--            per connection, as a client does (run with -t N -c N: one
--            connection per thread); at the end the chains' last tokens
--            are written back to BENCH_FILE, for the next run to go on
--   rotate   the one-UPDATE ceiling (rotate-ceiling.c): line N is "sid
--            uid jti" of a session for thread N, chained the same way
--            through the jti each answer gives, and written back
--   post     POST the file's lines (JSON bodies): thread N of T takes
--            lines N, N+T, N+2T... (T is BENCH_THREADS), so that no two
--            threads use the same line (an account, an address)
--   null     POST {} (the null ceiling)
--
-- Every request comes from an address of its own (X-Forwarded-For, from
-- 198.18.0.0/15, the benchmarking range; the programs trust 127.0.0.1 as
-- a proxy in the benchmark's config), as from a crowd of clients, so the
-- per-address throttles count as in production without refusing.
--
-- At the end one line for bench.py:
--   RESULT requests=N seconds=S non2xx=N errors=N p50=US p90=US p99=US
--   max=US broken=N
-- (latencies in microseconds; broken: answers that did not go on with
-- a chain).

local threads = {}
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("id", counter)
	table.insert(threads, thread)
end

local mode, file = os.getenv("BENCH_MODE"), os.getenv("BENCH_FILE")
local lines, step, nextline = {}, 1, 1
state, broken = nil, 0

local function read_lines(path)
	local out = {}
	for l in io.lines(path) do
		if l ~= "" then
			table.insert(out, l)
		end
	end
	return out
end

function init(args)
	math.randomseed(os.time() * 1000 + id)
	if file ~= nil and file ~= "" then
		lines = read_lines(file)
	end
	if mode == "refresh" or mode == "rotate" then
		state = lines[(id - 1) % #lines + 1]
	elseif mode == "post" then
		step = tonumber(os.getenv("BENCH_THREADS") or "1")
		nextline = (id - 1) % #lines + 1
	end
end

local function headers()
	return {
		["Content-Type"] = "application/json",
		["X-Forwarded-For"] = string.format("198.%d.%d.%d",
		    18 + math.random(0, 1), math.random(0, 255),
		    math.random(1, 254)),
	}
end

function request()
	if mode == "refresh" then
		return wrk.format("POST", wrk.path, headers(),
		    '{"refresh_token":"' .. state .. '"}')
	elseif mode == "rotate" then
		local sid, uid, jti = state:match("^(%S+) (%S+) (%S+)$")
		return wrk.format("GET", wrk.path .. "?sid=" .. sid .. "&uid=" ..
		    uid .. "&jti=" .. jti, headers())
	elseif mode == "post" then
		local body = lines[nextline]
		nextline = nextline + step
		if nextline > #lines then
			nextline = (nextline - 1) % step + 1
		end
		return wrk.format("POST", wrk.path, headers(), body)
	end
	return wrk.format("POST", wrk.path, headers(), "{}")
end

function response(status, hdrs, body)
	if mode == "refresh" then
		local t = body:match('"refresh_token":"([^"]+)"')
		if status == 200 and t ~= nil then
			state = t
		else
			broken = broken + 1
		end
	elseif mode == "rotate" then
		if status == 200 and #body == 32 then
			state = state:gsub("%S+$", body)
		else
			broken = broken + 1
		end
	end
end

function done(summary, latency, requests)
	local b, out = 0, {}
	for _, t in ipairs(threads) do
		b = b + (t:get("broken") or 0)
		table.insert(out, t:get("state"))
	end
	if (mode == "refresh" or mode == "rotate") and #out > 0 then
		local f = io.open(file, "w")
		f:write(table.concat(out, "\n") .. "\n")
		f:close()
	end
	local e = summary.errors
	io.write(string.format("RESULT requests=%d seconds=%.3f non2xx=%d " ..
	    "errors=%d p50=%d p90=%d p99=%d max=%d broken=%d\n",
	    summary.requests, summary.duration / 1e6, e.status,
	    e.connect + e.read + e.write + e.timeout,
	    latency:percentile(50), latency:percentile(90),
	    latency:percentile(99), latency.max, b))
end
