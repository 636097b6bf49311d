-- GETs WRK_PATH; prints a JSON summary.
local path = os.getenv("WRK_PATH") or "/"
local req

function init(args)
  req = wrk.format("GET", path, { ["Host"] = wrk.host .. ":" .. wrk.port })
end

function request()
  return req
end

dofile(os.getenv("WRK_SUMMARY"))
