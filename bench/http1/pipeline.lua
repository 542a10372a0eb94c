-- wrk script: send `depth` GET /hello requests back to back on each connection (HTTP/1.1
-- pipelining, RFC 9112 §9.3.2); wrk counts every response. Usage: wrk ... -s pipeline.lua -- 16
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format("GET", "/hello")
  end
  req = table.concat(r)
end

request = function()
  return req
end
