-- SPDX-License-Identifier: Apache-2.0
--
-- wrk script of the benchmark (bench/run.sh): replays one request that
-- bench/sign.py wrote and signed, and prints the run's figures on one
-- line that run.sh parses.
--
--   wrk ... -s bench/signed.lua URL -- REQUEST_FILE
--       sends the request exactly as signed (method, path, headers, body);
--       the URL only names the server, and its host:port must be the Host
--       that was signed.
--   wrk ... -s bench/signed.lua URL -- REQUEST_FILE GET
--       the baseline: GET of URL's path with the same headers but no body
--       (nginx serves static files to GET only), Host as wrk sets it.
--
-- The request is built once per thread in init(); no response() is
-- defined, so wrk never hands response bytes to Lua during the run.

local function read_request(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()

    local split = text:find("\n\n", 1, true)
    assert(split, path .. ": no empty line after the headers")
    local head, body = text:sub(1, split - 1), text:sub(split + 2)

    local method, target, headers = nil, nil, {}
    for line in head:gmatch("[^\n]+") do
        if not method then
            method, target = line:match("^(%u+) (%S+)$")
            assert(method, path .. ": bad first line")
        else
            local name, value = line:match("^([^:]+): (.*)$")
            assert(name, path .. ": bad header line")
            headers[name] = value
        end
    end
    return method, target, headers, body
end

function init(args)
    local method, target, headers, body = read_request(args[1])

    if args[2] then
        wrk.method = args[2]
        wrk.body = nil
        headers["Host"] = nil
        for name, value in pairs(headers) do
            wrk.headers[name] = value
        end
        return
    end
    wrk.method = method
    wrk.path = target
    wrk.body = body
    for name, value in pairs(headers) do
        wrk.headers[name] = value
    end
end

function done(summary, latency, requests)
    local e = summary.errors

    io.write(string.format(
        "wrk-result requests=%d duration_us=%d bytes=%d non2xx=%d " ..
        "connect=%d read=%d write=%d timeout=%d p50_us=%d p90_us=%d " ..
        "p99_us=%d max_us=%d\n",
        summary.requests, summary.duration, summary.bytes, e.status,
        e.connect, e.read, e.write, e.timeout,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max))
end
