-- GET one user by id. Environment: TOKEN, USER_ID.
local token = os.getenv("TOKEN")
local path = "/v1.0/users/" .. os.getenv("USER_ID")
request = function()
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
