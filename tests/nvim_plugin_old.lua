-- Debian's Neovim 0.7.2 with the plugin installed and setup() called (by tests/nvim_plugin_init.lua): what
-- it says, whether :VisCodex runs without a Lua error, and :checkhealth viscodex. JSON to $OUT. Only
-- Neovim 0.7 APIs here (no vim.json, no -l).
local out = assert(os.getenv("OUT"))
local report = { messages = _G.test_messages or {} }

local function finish(code)
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(report))
  f:close()
  vim.cmd("cquit " .. code)
end

vim.defer_fn(function()
  report.watchdog = true
  finish(3)
end, 40000)

report.command_exists = vim.fn.exists(":VisCodex")
local ok, err = pcall(vim.cmd, "VisCodex picture.png")
report.command_error = ok and "" or tostring(err)
pcall(vim.cmd, "VisCodexCancel")
local clients = vim.lsp.get_active_clients()
report.client_count = #clients
vim.cmd("checkhealth viscodex")
report.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
finish(0)
