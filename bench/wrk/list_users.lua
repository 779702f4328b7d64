-- List users with an indexed filter (a page of up to 10). Environment: TOKEN.
local token = os.getenv("TOKEN")
local n = 0
request = function()
  n = n + 1
  local prefix = string.format("User %04d", n % 1000)
  local path = "/v1.0/users?$filter=startswith(displayName,'" .. prefix .. "')&$top=10&$select=id,displayName"
  path = path:gsub(" ", "%%20"):gsub("'", "%%27")
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
