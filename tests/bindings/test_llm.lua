-- The Lua module `llm` under lua5.4 and luajit: loading, version, status codes.
local llm = require "llm"
local failures = 0
local function check(cond, what)
  if cond then
    print("ok: " .. what)
  else
    print("FAIL: " .. what)
    failures = failures + 1
  end
end

local v = llm.version()
local major, minor, patch = v:match("^(%d+)%.(%d+)%.(%d+)$")
check(major ~= nil, "version() is MAJOR.MINOR.PATCH: " .. v)
check(llm.version_number() == major * 10000 + minor * 100 + patch, "version_number() agrees")
check(llm._VERSION == v, "_VERSION is the header's version")
check(llm.status_str(0):match("^LLM_OK") ~= nil, "status_str(0)")
check(llm.status_str(-3):match("^LLM_ERR_BAD_FILE") ~= nil, "status_str(-3)")
local ok, err = pcall(llm.status_str, "x")
check(not ok and tostring(err):match("number") ~= nil, "status_str rejects a string: " .. tostring(err))
ok, err = pcall(llm.status_str, 1.5)
check(not ok and tostring(err):match("integer") ~= nil, "status_str rejects 1.5")

if failures > 0 then
  print(failures .. " failed")
  os.exit(1)
end
print("all passed")
