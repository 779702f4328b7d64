-- Client-credentials token issuance. Environment: TENANT, CLIENT_ID, CLIENT_SECRET, SCOPE.
local function enc(s) return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end)) end
local body = "grant_type=client_credentials&client_id=" .. enc(os.getenv("CLIENT_ID")) ..
  "&client_secret=" .. enc(os.getenv("CLIENT_SECRET")) .. "&scope=" .. enc(os.getenv("SCOPE"))
local path = "/" .. os.getenv("TENANT") .. "/oauth2/v2.0/token"
request = function()
  return wrk.format("POST", path, { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
