-- Create users with unique names. Environment: TOKEN, DOMAIN, RUN (a prefix unique per run).
local token = os.getenv("TOKEN")
local domain = os.getenv("DOMAIN")
local run = os.getenv("RUN")
local n = 0
local thread_id = 0
setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
request = function()
  n = n + 1
  local alias = string.format("%s-%d-%d", run, tid or 0, n)
  local body = string.format('{"accountEnabled":true,"displayName":"Load %s","mailNickname":"%s",' ..
    '"userPrincipalName":"%s@%s","passwordProfile":{"password":"Load!Passw0rd"}}', alias, alias, alias, domain)
  return wrk.format("POST", "/v1.0/users", {
    ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
