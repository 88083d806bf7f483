-- One image-to-code run: the request (viscodex/imageToCode, with a progress token of ours), its result
-- applied to the buffer (or a created file opened), and cancelling.
local client = require("viscodex.client")
local config = require("viscodex.config")
local images = require("viscodex.images")
local progress = require("viscodex.progress")

local M = {}

---@type table<string, {client_id: integer, id: integer, buf: integer, version: integer, cancelled: boolean|nil}>
M.runs = {}
local serial = 0

local function notify(message, level)
  vim.notify(message, level or vim.log.levels.INFO)
end

--- Where the code goes for a :VisCodex without a range: a blank cursor line takes it, else the line below.
---@return table where {start = {row, col}} in bytes, 0-based
function M.cursor(buf, win)
  local row = vim.api.nvim_win_get_cursor(win)[1] - 1
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ""
  if line:match("^%s*$") then
    return { start = { row, 0 } }
  end
  return { start = { row + 1, 0 } }
end

--- What a range (or the visual selection it came from) covers: characters for a characterwise selection on
--- those lines, else the whole lines.
---@param range integer[] {line1, line2}, 1-based
function M.selection(buf, range)
  local first, last = range[1], range[2]
  local s = vim.api.nvim_buf_get_mark(buf, "<")
  local e = vim.api.nvim_buf_get_mark(buf, ">")
  if vim.fn.visualmode() == "v" and s[1] == first and e[1] == last then
    local line = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
    local col = math.min(e[2], #line)
    local char = vim.fn.strcharpart(line:sub(col + 1), 0, 1)
    return { start = { first - 1, s[2] }, finish = { last - 1, math.min(col + #char, #line) } }
  end
  -- whole lines: up to the start of the line after the last (LSP's end of text after the final newline)
  return { start = { first - 1, 0 }, finish = { last, 0 } }
end

local function position(buf, pos, encoding)
  local character = pos[2] > 0 and vim.lsp.util.character_offset(buf, pos[1], pos[2], encoding) or 0
  return { line = pos[1], character = character }
end

--- `where` (bytes) as the request's position or range, in the client's position encoding.
---@return {position: table|nil, range: table|nil}
function M.lsp_where(buf, where, encoding)
  local start = position(buf, where.start, encoding)
  if where.finish then
    return { range = { start = start, ["end"] = position(buf, where.finish, encoding) } }
  end
  return { position = start }
end

--- Send the request once the server is ready; `where` (bytes) becomes its position or range.
---@param args table the request's fields (images, and kind, position... when a code action gave them)
---@param where table|nil
function M.send(args, buf, where, client_id)
  client.when_ready(client_id, buf, function(c)
    serial = serial + 1
    local token = string.format("viscodex-nvim-%d-%d", vim.fn.getpid(), serial)
    local params = vim.tbl_extend("force", args, {
      textDocument = args.textDocument or { uri = vim.uri_from_bufnr(buf) },
      workDoneToken = token,
      apply = false,
    })
    if where then
      local at = M.lsp_where(buf, where, c.offset_encoding)
      params.position, params.range = at.position, at.range
    end
    local version = vim.lsp.util.buf_versions[buf]
    local ok, id = client.request(c, "viscodex/imageToCode", params, function(err, result)
      M.finish(token, err, result)
    end, buf)
    if not ok then
      return notify("VisCodex: the language server has stopped; :LspLog says why", vim.log.levels.ERROR)
    end
    M.runs[token] = { client_id = c.id, id = id, buf = buf, version = version }
  end, function()
    notify("VisCodex: the language server did not get ready in 20 s; :LspLog and :checkhealth viscodex say why", vim.log.levels.ERROR)
  end)
end

--- :VisCodex [path]: the picture of a file or the clipboard, into the buffer at the cursor or over the range.
---@param opts {path: string|nil, range: integer[]|nil}
function M.image_to_code(opts)
  local buf = vim.api.nvim_get_current_buf()
  local where = opts.range and M.selection(buf, opts.range) or M.cursor(buf, vim.api.nvim_get_current_win())
  local client_id, err = client.start(buf)
  if not client_id then
    return notify(err, vim.log.levels.ERROR)
  end
  local root = vim.lsp.get_client_by_id(client_id).root_dir or client.root_dir(buf)
  local image, image_err = images.get(opts.path, root)
  if not image then
    return notify(image_err, vim.log.levels.ERROR)
  end
  M.send({ images = { image } }, buf, where, client_id)
end

--- The server's viscodex.imageToCode command (a code action): run as our own request, so it is tracked,
--- cancellable and reported like :VisCodex; "Fix with a screenshot..." asks for the picture first.
function M.from_command(command, ctx)
  local args = vim.deepcopy((command.arguments or {})[1] or {})
  local buf = ctx.bufnr
  if not args.pickImage then
    return M.send(args, buf, nil, ctx.client_id)
  end
  args.pickImage = nil
  local c = vim.lsp.get_client_by_id(ctx.client_id)
  local root = c and c.root_dir or client.root_dir(buf)
  vim.ui.input({ prompt = "VisCodex: screenshot file (empty: the clipboard image): ", completion = "file" }, function(input)
    if input == nil then
      return
    end
    local image, err = images.get(input ~= "" and input or nil, root)
    if not image then
      return notify(err, vim.log.levels.ERROR)
    end
    args.images = { image }
    M.send(args, buf, nil, ctx.client_id)
  end)
end

local function created_files(edit)
  local uris = {}
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.kind == "create" then
      table.insert(uris, change.uri)
    end
  end
  return uris
end

local function touches(edit, uri)
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument and change.textDocument.uri == uri then
      return true
    end
  end
  return (edit.changes or {})[uri] ~= nil
end

--- The result: its edit applied (unless the buffer changed meanwhile: then the code goes to a register), and
--- one message saying whether it was verified.
function M.apply(run, result)
  local c = vim.lsp.get_client_by_id(run.client_id)
  local encoding = c and c.offset_encoding or "utf-16"
  local edit = result.edit ~= vim.NIL and result.edit or nil
  local verdict = result.verified and "verified" or "best effort, NOT verified"
  local run_dir = result.runDir or "?"
  if c and c.root_dir and vim.startswith(run_dir, c.root_dir .. "/") then
    run_dir = run_dir:sub(#c.root_dir + 2) -- short enough for one line of the message area
  end
  local summary = string.format(
    "VisCodex: %s · score %.2f · %d iteration(s) · %s",
    verdict,
    result.score or 0,
    result.iterations or 0,
    run_dir
  )
  local level = result.verified and vim.log.levels.INFO or vim.log.levels.WARN
  if not edit then
    return notify(summary .. ": the model gave no code", vim.log.levels.WARN)
  end
  local uri = vim.uri_from_bufnr(run.buf)
  if vim.api.nvim_buf_is_valid(run.buf) and vim.lsp.util.buf_versions[run.buf] ~= run.version and touches(edit, uri) then
    vim.fn.setreg(config.options.register, result.code or "")
    return notify(
      string.format(
        '%s. The buffer changed during the run, so the code was not inserted: it is in register %s ("%sp pastes it)',
        summary,
        config.options.register,
        config.options.register
      ),
      vim.log.levels.WARN
    )
  end
  vim.lsp.util.apply_workspace_edit(edit, encoding)
  local created = created_files(edit)
  if #created > 0 then
    vim.lsp.util.show_document({ uri = created[1] }, encoding, { focus = true })
    summary = summary .. "; created " .. vim.uri_to_fname(created[1])
  end
  notify(summary, level)
end

function M.finish(token, err, result)
  local run = M.runs[token]
  M.runs[token] = nil
  if not run or run.cancelled then
    return
  end
  if err then
    -- the server's messages name the fix (start the model server, build the sandbox image, ...)
    return notify("VisCodex: " .. (err.message or tostring(err)), vim.log.levels.ERROR)
  end
  M.apply(run, result)
end

--- A server that exits ends its runs.
function M.client_exited(client_id, code, signal)
  local lost = 0
  for token, run in pairs(M.runs) do
    if run.client_id == client_id then
      M.runs[token] = nil
      lost = lost + 1
    end
  end
  for key, p in pairs(progress.active) do
    if p.client_id == client_id then
      progress.active[key] = nil
    end
  end
  if lost > 0 then
    notify(
      string.format("VisCodex: the language server exited (code %s, signal %s) during %d run(s); :LspLog says why", code, signal, lost),
      vim.log.levels.ERROR
    )
  end
end

--- :VisCodexCancel: every run in progress, ours by $/cancelRequest (Client:cancel_request), others (a
--- command another plugin ran) by window/workDoneProgress/cancel.
---@return integer how many runs were asked to stop
function M.cancel()
  local count, ours = 0, {}
  for token, run in pairs(M.runs) do
    local c = vim.lsp.get_client_by_id(run.client_id)
    if c then
      client.cancel_request(c, run.id)
      count = count + 1
    end
    run.cancelled = true
    M.runs[token] = nil
    ours[token] = true
  end
  for _, p in pairs(progress.active) do
    local c = vim.lsp.get_client_by_id(p.client_id)
    if c and not ours[p.token] and not (type(p.token) == "string" and p.token:find("^viscodex%-nvim%-")) then
      client.notify(c, "window/workDoneProgress/cancel", { token = p.token })
      count = count + 1
    end
  end
  notify(count > 0 and string.format("VisCodex: cancelling %d run(s)", count) or "VisCodex: nothing is running")
  return count
end

return M
