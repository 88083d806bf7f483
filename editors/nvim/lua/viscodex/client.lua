-- The language client: starting `viscodex-lsp` with vim.lsp.start, finding it, and talking to it on every
-- Neovim from 0.10 (0.11 made the client's functions methods: client:request instead of client.request).
local config = require("viscodex.config")

local M = {}

M.NAME = "viscodex"
local METHODS = vim.fn.has("nvim-0.11") == 1

---@param client table
function M.request(client, method, params, handler, bufnr)
  if METHODS then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

---@param client table
function M.notify(client, method, params)
  if METHODS then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

---@param client table
function M.cancel_request(client, id)
  if METHODS then
    return client:cancel_request(id)
  end
  return client.cancel_request(id)
end

--- The workspace folder of a buffer: the nearest folder with a root marker, else the current directory
--- when the file is under it, else the file's folder.
---@param buf integer
---@return string
function M.root_dir(buf)
  local root = vim.fs.root(buf, config.options.root_markers)
  if root then
    return root
  end
  local name = vim.api.nvim_buf_get_name(buf)
  local cwd = vim.fn.getcwd()
  if name == "" or vim.startswith(vim.fs.normalize(name), vim.fs.normalize(cwd) .. "/") then
    return cwd
  end
  return vim.fs.dirname(name)
end

---@param buf integer
---@return table
function M.client_config(buf)
  local cmd = config.server_cmd()
  local settings = vim.deepcopy(config.options.settings)
  return {
    name = M.NAME,
    cmd = cmd,
    root_dir = M.root_dir(buf),
    -- the settings at start, and again when the server asks (workspace/configuration, section viscodex);
    -- canPickImage: "Fix with a screenshot..." is offered, and the command below asks for the picture
    init_options = vim.tbl_extend("force", settings, { canPickImage = true }),
    settings = { viscodex = settings },
    commands = {
      ["viscodex.imageToCode"] = function(command, ctx)
        require("viscodex.run").from_command(command, ctx)
      end,
    },
    on_exit = function(code, signal, client_id)
      vim.schedule(function()
        require("viscodex.run").client_exited(client_id, code, signal)
      end)
    end,
  }
end

--- Start the server for a buffer, or attach the buffer to the running one of its workspace.
---@param buf integer
---@return integer|nil client_id
---@return string|nil error
function M.start(buf)
  local cmd, how = config.server_cmd()
  if vim.fn.executable(cmd[1]) ~= 1 then
    return nil,
      string.format(
        "VisCodex: the language server `%s` is not found (looked in %s): install VisCodex (its bootstrap.sh, "
          .. "or `pip install -e .` in the checkout) or give its path: require('viscodex').setup({ cmd = "
          .. "{ '/path/to/viscodex-lsp' } }); :checkhealth viscodex",
        cmd[1],
        how
      )
  end
  local id = vim.lsp.start(M.client_config(buf), { bufnr = buf })
  if not id then
    return nil, "VisCodex: the language server did not start: :checkhealth viscodex and :LspLog say why"
  end
  return id, nil
end

--- The running clients (all workspaces).
---@return table[]
function M.clients()
  return vim.lsp.get_clients({ name = M.NAME })
end

--- The client attached to a buffer, if any.
---@param buf integer
---@return table|nil
function M.get(buf)
  return vim.lsp.get_clients({ name = M.NAME, bufnr = buf })[1]
end

--- Call fn(client) once the client is initialized and the buffer attached (its text sent), or on_timeout().
---@param client_id integer
---@param buf integer
function M.when_ready(client_id, buf, fn, on_timeout)
  local deadline = vim.uv.now() + 20000
  local function poll()
    local client = vim.lsp.get_client_by_id(client_id)
    if client and client.initialized and vim.lsp.buf_is_attached(buf, client_id) then
      return fn(client)
    end
    if not client or vim.uv.now() > deadline then
      return on_timeout()
    end
    vim.defer_fn(poll, 20)
  end
  poll()
end

--- Settings changed by a later setup(): running servers get them (workspace/didChangeConfiguration).
function M.update_settings()
  local settings = vim.deepcopy(config.options.settings)
  for _, client in ipairs(M.clients()) do
    client.settings = { viscodex = settings }
    M.notify(client, "workspace/didChangeConfiguration", { settings = { viscodex = settings } })
  end
end

return M
