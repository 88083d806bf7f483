-- A user's init.lua for the plugin's tests: the plugin installed as a start package (as packer and lazy.nvim
-- lay it out: editors/nvim linked into pack/*/start/), then setup() with the options the test gives in
-- $VISCODEX_SETUP (JSON). Works on Neovim 0.7 too (vim.fn.json_decode).
vim.opt.packpath:prepend(assert(os.getenv("PACKDIR")))
local setup = os.getenv("VISCODEX_SETUP")
if setup and setup ~= "" then
  local opts = vim.fn.json_decode(setup)
  -- recorded before the plugin runs, so a test sees every message setup() gives
  _G.test_messages = {}
  local notify = vim.notify
  vim.notify = function(msg, level, o)
    table.insert(_G.test_messages, { msg = msg, level = level or vim.log.levels.INFO })
    return notify(msg, level, o)
  end
  require("viscodex").setup(opts)
end
