-- Redeems one pre-minted authorization code per request (CODES_FILE, one per line), with
-- Basic client authentication (WRK_BASIC) and WRK_REDIRECT_URI. Threads take disjoint
-- codes; once a thread runs out it sends the last one again, which the server refuses: the
-- summary counts those as non-2xx, so a run that ran out is visible.
local basic = os.getenv("WRK_BASIC") or ""
local redirect = os.getenv("WRK_REDIRECT_URI") or ""
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local codes = {}
local next_code = 1

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  local n = tonumber(os.getenv("WRK_THREADS") or "1")
  local i = 0
  for line in io.lines(os.getenv("CODES_FILE")) do
    if i % n == tid then
      table.insert(codes, line)
    end
    i = i + 1
  end
end

function request()
  local code = codes[next_code] or codes[#codes] or "none"
  next_code = next_code + 1
  local body = "grant_type=authorization_code&code=" .. urlencode(code) ..
    "&redirect_uri=" .. urlencode(redirect)
  return wrk.format("POST", "/token", {
    ["Host"] = wrk.host .. ":" .. wrk.port,
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. basic,
  }, body)
end

dofile(os.getenv("WRK_SUMMARY"))
