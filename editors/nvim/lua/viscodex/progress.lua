-- VisCodex's work-done progress, read from the LspProgress autocommand: shown in the message area (unless
-- `progress = false`: fidget.nvim and statuslines read the same events), kept for status() and for
-- :VisCodexCancel, which cancels every run in progress.
local config = require("viscodex.config")

local M = {}

---@type table<string, {client_id: integer, token: string|integer, message: string, percentage: integer|nil}>
M.active = {}
M.last = nil

local function echo(text, hl)
  local room = math.max(vim.v.echospace, 20)
  vim.api.nvim_echo({ { vim.fn.strcharpart(text, 0, room), hl } }, false, {})
end

---@param ev table the LspProgress autocommand's event
function M.on_progress(ev)
  local data = ev.data
  local client = data and data.client_id and vim.lsp.get_client_by_id(data.client_id)
  if not client or client.name ~= "viscodex" or type(data.params) ~= "table" then
    return
  end
  local value = data.params.value
  if type(value) ~= "table" then
    return
  end
  local key = data.client_id .. ":" .. tostring(data.params.token)
  local message = value.message or (M.active[key] and M.active[key].message) or ""
  if value.kind == "end" then
    M.active[key] = nil
    M.last = message
  else
    M.active[key] = {
      client_id = data.client_id,
      token = data.params.token,
      message = message,
      percentage = value.percentage,
    }
  end
  if config.options.progress then
    local hl = value.kind == "end" and (message:find("^verified") and "DiagnosticOk" or "WarningMsg") or "ModeMsg"
    echo("VisCodex: " .. message, hl)
  end
end

function M.setup()
  local group = vim.api.nvim_create_augroup("viscodex_progress", { clear = true })
  vim.api.nvim_create_autocmd("LspProgress", { group = group, callback = M.on_progress })
end

--- What the runs are doing now, for a statusline ("" when none runs).
---@return string
function M.status()
  local parts = {}
  for _, run in pairs(M.active) do
    table.insert(parts, run.message)
  end
  if #parts == 0 then
    return ""
  end
  table.sort(parts)
  return "VisCodex: " .. table.concat(parts, " | ")
end

return M
