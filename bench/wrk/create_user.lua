-- Create users with unique names. Environment: TOKEN, DOMAIN. The wrk argument after "--" is a
-- prefix unique to this wrk run, so that a warm-up and the measured run never collide.
local token = os.getenv("TOKEN")
local domain = os.getenv("DOMAIN")
local run = "r"
local n = 0
init = function(args)
  run = args[1] or run
end
request = function()
  n = n + 1
  local alias = string.format("%s-%d", run, n)
  local body = string.format('{"accountEnabled":true,"displayName":"Load %s","mailNickname":"%s",' ..
    '"userPrincipalName":"%s@%s","passwordProfile":{"password":"Load!Passw0rd"}}', alias, alias, alias, domain)
  return wrk.format("POST", "/v1.0/users", {
    ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
