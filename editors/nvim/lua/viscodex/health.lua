-- :checkhealth viscodex: the Neovim version, the language server, Docker, the sandbox image and the model
-- endpoint, each with the fix. Runs on old Neovims too (to say which version is needed).
local M = {}

local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local error = health.error or health.report_error
local info = health.info or health.report_info

--- The Python interpreter of a console script (its #! line), or nil.
---@param script string
---@return string|nil
local function script_python(script)
  local fh = io.open(script, "r")
  if not fh then
    return nil
  end
  local first = fh:read("*l") or ""
  fh:close()
  local interpreter = first:match("^#!%s*(%S*python[%w%.]*)%s*$")
  if interpreter and vim.fn.executable(interpreter) == 1 then
    return interpreter
  end
  return nil
end

local function check_server(config)
  local cmd, how = config.server_cmd()
  local path = vim.fn.exepath(cmd[1])
  if path == "" then
    error(
      string.format("the language server `%s` is not found (looked in %s)", cmd[1], how),
      {
        "install VisCodex: ./bootstrap.sh in its checkout (or `pip install -e .` in a virtualenv)",
        "or give its path: require('viscodex').setup({ cmd = { '/path/to/.venv/bin/viscodex-lsp' } })",
      }
    )
    return nil
  end
  local result = vim.system({ path, "--version" }, { text = true }):wait(20000)
  local answer = vim.trim((result.stdout or "") .. (result.stderr or ""))
  if result.code ~= 0 then
    error(string.format("%s --version failed (exit %s): %s", path, tostring(result.code), answer), {
      "reinstall VisCodex (./bootstrap.sh), or point `cmd` at a working viscodex-lsp",
    })
    return nil
  end
  ok(string.format("language server: %s (%s, found in %s)", answer, path, how))
  local python = config.options.python
  if python == nil and vim.fs.basename(path):match("^python") then
    python = path -- cmd = { "python", "-m", ... }
  end
  python = python or script_python(path)
  if not python then
    error("cannot tell which Python runs " .. path .. " (its first line names none)", {
      "give it: require('viscodex').setup({ python = '/path/to/.venv/bin/python' })",
    })
  end
  return python
end

local function check_services(config, python)
  local probe = config.plugin_dir() .. "/scripts/health_probe.py"
  local s = config.options.settings or {}
  local given = {
    model_url = s.model_url or s.modelUrl,
    model_name = s.model_name or s.modelName,
    model_path = s.model_path or s.modelPath,
    backend = s.backend,
  }
  local result = vim.system({ python, probe, vim.json.encode(given) }, { text = true }):wait(60000)
  local decoded_ok, found = pcall(vim.json.decode, result.stdout or "")
  if result.code ~= 0 or not decoded_ok or type(found) ~= "table" then
    error(
      string.format("the checks of Docker, the sandbox image and the model did not run (%s exit %s): %s", python, tostring(result.code), vim.trim(result.stderr or "")),
      { "check that " .. python .. " is the Python VisCodex is installed in; set `python` in setup() if not" }
    )
    return
  end
  for _, name in ipairs({ "viscodex", "docker", "sandbox image", "model" }) do
    local c = found[name]
    if c then
      local text = (name == "model" and "model endpoint" or name) .. ": " .. c.detail
      local fix = c.fix ~= "" and { c.fix } or nil
      if c.ok then
        ok(text)
      elseif c.warn then
        warn(text, fix)
      else
        error(text, fix)
      end
    end
  end
end

function M.check()
  local version = require("viscodex.version")
  start("viscodex: Neovim")
  if not version.supported() then
    error(version.message(), { "the other checks need Neovim " .. version.MINIMUM .. " too" })
    return
  end
  ok(string.format("Neovim %s (%s or later is needed)", version.current(), version.MINIMUM))
  local config = require("viscodex.config")
  if #config.unknown > 0 then
    warn("unknown setup() option(s): " .. table.concat(config.unknown, ", "), {
      "the options are: " .. table.concat(vim.tbl_keys(config.defaults), ", ") .. ", cmd, python",
    })
  end
  local clients = require("viscodex.client").clients()
  if #clients > 0 then
    for _, c in ipairs(clients) do
      info(string.format("running: client %d for %s", c.id, c.root_dir or "?"))
    end
  end

  start("viscodex: language server")
  local python = check_server(config)

  start("viscodex: Docker, sandbox image, model endpoint")
  if python then
    check_services(config, python)
  else
    error("not checked: the server's Python is unknown (see above)")
  end

  start("viscodex: clipboard images (:VisCodex without a file)")
  local tool, advice = require("viscodex.clipboard").tool()
  if tool then
    ok("the clipboard image is read with " .. tool)
  else
    warn("no clipboard image tool: " .. advice, { ":VisCodex path/to/image.png works without one" })
  end
end

return M
