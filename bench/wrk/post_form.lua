-- POSTs one fixed form body with Basic client authentication; prints a JSON summary.
-- Environment: WRK_PATH (e.g. /token), WRK_BODY, WRK_BASIC (base64 of id:secret).
local path = os.getenv("WRK_PATH") or "/token"
local body = os.getenv("WRK_BODY") or ""
local basic = os.getenv("WRK_BASIC") or ""

-- Built in init(): at load time wrk.host is not known yet, and a request without a Host
-- header is refused by HTTP/1.1 servers that check it (Node's does).
local req

function init(args)
  req = wrk.format("POST", path, {
    ["Host"] = wrk.host .. ":" .. wrk.port,
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. basic,
  }, body)
end

function request()
  return req
end

dofile(os.getenv("WRK_SUMMARY"))
