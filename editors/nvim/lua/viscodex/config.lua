-- setup()'s options: defaults, merging, and where the language server is.
local M = {}

M.defaults = {
  --- The language server: a list (command and arguments) or a path; nil finds `viscodex-lsp` on PATH,
  --- else in the VisCodex checkout this plugin sits in (.venv/bin/viscodex-lsp).
  cmd = nil,
  --- The Python the server runs with, for :checkhealth's Docker, sandbox image and model checks;
  --- nil reads it from the server script's first line.
  python = nil,
  --- Buffers of these filetypes start (or join) the server when opened; :VisCodex works in any buffer.
  filetypes = {
    "markdown",
    "html",
    "css",
    "scss",
    "javascript",
    "javascriptreact",
    "typescript",
    "typescriptreact",
    "vue",
    "svelte",
    "python",
  },
  --- The workspace folder (where runs are kept, in .viscodex/runs) is the nearest folder holding one of these,
  --- else the current directory when the file is under it, else the file's folder.
  root_markers = { ".git", "pyproject.toml", "package.json", ".viscodex" },
  --- The server's settings (its `viscodex` section): model_url, model_name, backend, max_iters, candidates,
  --- threshold, time_budget_s, timeout, stack, test_cmd, max_image_mb, max_concurrent_runs,
  --- sandbox_jobs.
  settings = {},
  --- Show VisCodex's progress in the message area (false when fidget.nvim or a statusline shows it).
  progress = true,
  --- The register that gets the code when it cannot be inserted (the buffer changed during the run).
  register = "v",
}

---@type table
M.options = vim.deepcopy(M.defaults)
M.unknown = {}

--- Merge the user's options over the defaults; unknown keys are remembered (:checkhealth lists them).
---@param opts table|nil
function M.set(opts)
  opts = opts or {}
  M.unknown = {}
  for key in pairs(opts) do
    if M.defaults[key] == nil and key ~= "cmd" and key ~= "python" then
      table.insert(M.unknown, key)
    end
  end
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts)
  if opts.filetypes then -- a list replaces the default list, it is not merged into it
    M.options.filetypes = opts.filetypes
  end
  if #M.unknown > 0 then
    vim.notify("VisCodex: unknown setup() option(s): " .. table.concat(M.unknown, ", "), vim.log.levels.WARN)
  end
end

--- The checkout this plugin sits in (editors/nvim/lua/viscodex/config.lua -> the checkout), or nil.
---@return string|nil
function M.checkout()
  local source = debug.getinfo(1, "S").source:gsub("^@", "")
  local root = vim.fn.fnamemodify(source, ":p:h:h:h:h:h")
  if vim.fn.filereadable(root .. "/pyproject.toml") == 1 then
    return root
  end
  return nil
end

--- The plugin's own folder (editors/nvim).
---@return string
function M.plugin_dir()
  local source = debug.getinfo(1, "S").source:gsub("^@", "")
  return vim.fn.fnamemodify(source, ":p:h:h:h")
end

--- The server's command line, and how it was found.
---@return string[] cmd
---@return string how
function M.server_cmd()
  local cmd = M.options.cmd
  if type(cmd) == "string" then
    return { cmd }, "cmd option"
  elseif type(cmd) == "table" and #cmd > 0 then
    return cmd, "cmd option"
  end
  if vim.fn.executable("viscodex-lsp") == 1 then
    return { "viscodex-lsp" }, "PATH"
  end
  local checkout = M.checkout()
  local bin = vim.fn.has("win32") == 1 and "/.venv/Scripts/viscodex-lsp.exe" or "/.venv/bin/viscodex-lsp"
  if checkout and vim.fn.executable(checkout .. bin) == 1 then
    return { checkout .. bin }, "the checkout's .venv"
  end
  return { "viscodex-lsp" }, "PATH (not found)"
end

return M
