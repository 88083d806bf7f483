-- End to end in a real headless Neovim (0.12): start viscodex-lsp with vim.lsp.start, open a Markdown note
-- with an image reference, list the code actions at the reference, run "Generate code from image", and
-- write what happened (titles, the command's result, the created file's buffer) as JSON to $OUT.
-- Data comes in environment variables; the Python test checks the JSON and the files.
local out = assert(os.getenv("OUT"))
local note = assert(os.getenv("NOTE"))
local report = { titles = {}, errors = {} }

local function finish(code)
  local f = assert(io.open(out, "w"))
  f:write(vim.json.encode(report))
  f:close()
  vim.cmd("cquit " .. code)
end

vim.defer_fn(function() -- watchdog: never hang the test
  table.insert(report.errors, "watchdog: no result in time")
  finish(3)
end, tonumber(os.getenv("WATCHDOG_MS") or "100000"))

vim.lsp.set_log_level("OFF")
vim.cmd.edit(note)
local buf = vim.api.nvim_get_current_buf()
local client_id = vim.lsp.start({
  name = "viscodex",
  cmd = { assert(os.getenv("VISCODEX_LSP")) },
  root_dir = assert(os.getenv("WS")),
  init_options = { model_url = os.getenv("MODEL_URL"), backend = "server", max_iters = 1 },
}, { bufnr = buf })
if not client_id then
  table.insert(report.errors, "vim.lsp.start returned nil")
  finish(2)
end
local client = assert(vim.lsp.get_client_by_id(client_id))
vim.wait(20000, function() return client.initialized end, 20)
report.initialized = client.initialized == true

-- the cursor on the image reference (line 3, 0-based 2), as a user would put it
vim.api.nvim_win_set_cursor(0, { 3, 4 })
local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
params.context = { diagnostics = {} }
local response = client:request_sync("textDocument/codeAction", params, 10000, buf)
if not response or response.err then
  table.insert(report.errors, "codeAction failed: " .. vim.inspect(response and response.err))
  finish(2)
end
local chosen
for _, action in ipairs(response.result or {}) do
  table.insert(report.titles, action.title)
  if action.title:find("Generate code from image", 1, true) then
    chosen = action
  end
end
if not chosen then
  finish(2)
end

-- run it as Neovim runs a code action's command; the server applies the edit with workspace/applyEdit
-- (Neovim creates the file and edits its buffer) and asks Neovim to show it
local done = false
client:request("workspace/executeCommand", {
  command = chosen.command.command,
  arguments = chosen.command.arguments,
}, function(err, result)
  report.command_error = err and err.message or vim.NIL
  report.result = result
  done = true
end, buf)
vim.wait(90000, function() return done end, 50)
if not done then
  table.insert(report.errors, "executeCommand did not answer")
  finish(3)
end
if report.result and report.result ~= vim.NIL then
  local created = vim.fn.fnamemodify(note, ":h") .. "/img/hero.html"
  local created_buf = vim.fn.bufnr(created)
  report.created_buffer_loaded = created_buf ~= -1
  if created_buf ~= -1 then
    report.created_lines = vim.api.nvim_buf_get_lines(created_buf, 0, -1, false)
  end
  report.current_buffer = vim.api.nvim_buf_get_name(0)
end
report.note_lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
client:stop()
vim.wait(5000, function() return client:is_stopped() end, 50)
finish(0)
