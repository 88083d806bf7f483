-- VisCodex for Neovim: a thin client of the `viscodex-lsp` language server. This file is the API;
-- the work is in the sibling modules (client, run, images, clipboard, progress, health).
local version = require("viscodex.version")

local M = {}

local configured = false

--- Start the server for the configured filetypes and show VisCodex's progress.
---@param opts table|nil see require("viscodex.config").defaults
function M.setup(opts)
  if not version.check() then
    return
  end
  local config = require("viscodex.config")
  local client = require("viscodex.client")
  config.set(opts)
  require("viscodex.progress").setup()
  local group = vim.api.nvim_create_augroup("viscodex", { clear = true })
  local function start(buf)
    local _, err = client.start(buf)
    if err then
      vim.notify_once(err, vim.log.levels.ERROR)
    end
  end
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = config.options.filetypes,
    callback = function(ev)
      start(ev.buf)
    end,
  })
  -- buffers already open (a plugin manager may load this after the first file)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(config.options.filetypes, vim.bo[buf].filetype) then
      start(buf)
    end
  end
  if configured then
    client.update_settings()
  end
  configured = true
end

--- Code from a picture (a file, or the clipboard's image when path is nil), inserted at the cursor or over
--- the range. What :VisCodex [path] runs.
---@param opts {path: string|nil, range: integer[]|nil}|nil
function M.image_to_code(opts)
  if not version.check() then
    return
  end
  if not configured then
    M.setup({})
  end
  require("viscodex.run").image_to_code(opts or {})
end

--- Cancel the running runs (:VisCodexCancel); returns how many were asked to stop.
---@return integer
function M.cancel()
  if not version.check() then
    return 0
  end
  return require("viscodex.run").cancel()
end

--- vim.lsp.buf.code_action() with the diagnostics of the cursor line from every source (linters, other
--- servers): Neovim sends each server only its own, so "Fix with a screenshot..." would never be offered.
---@param opts table|nil vim.lsp.buf.code_action()'s options
function M.code_action(opts)
  if not version.check() then
    return
  end
  opts = vim.deepcopy(opts or {})
  opts.context = opts.context or {}
  if not opts.context.diagnostics then
    local line = vim.api.nvim_win_get_cursor(0)[1] - 1
    opts.context.diagnostics = vim.tbl_map(function(d)
      return {
        range = {
          start = { line = d.lnum, character = d.col },
          ["end"] = { line = d.end_lnum or d.lnum, character = d.end_col or d.col },
        },
        severity = d.severity,
        message = d.message,
        source = d.source,
        code = d.code,
      }
    end, vim.diagnostic.get(0, { lnum = line }))
  end
  vim.lsp.buf.code_action(opts)
end

--- What the runs are doing, for a statusline; "" when none runs.
---@return string
function M.status()
  if not version.supported() then
    return ""
  end
  return require("viscodex.progress").status()
end

return M
