-- Drives the VisCodex plugin in a real headless Neovim (0.12) as a user would, one scenario per run
-- ($SCENARIO), and writes what happened as JSON to $OUT for tests/test_nvim_plugin.py to check.
-- Started with -u tests/nvim_plugin_init.lua, which installed the plugin and called setup().
local out = assert(os.getenv("OUT"))
local scenario = assert(os.getenv("SCENARIO"))
local report = { errors = {}, events = {}, screens = {} }
report.messages = _G.test_messages or {}

-- a global the plugin sets by mistake (a missing `local`) is recorded
report.globals = {}
setmetatable(_G, {
  __newindex = function(t, k, v)
    table.insert(report.globals, tostring(k))
    rawset(t, k, v)
  end,
})

local function finish(code)
  local f = assert(io.open(out, "w"))
  f:write(vim.json.encode(report))
  f:close()
  vim.cmd("cquit " .. code)
end

local function fail(message)
  table.insert(report.errors, message)
  finish(2)
end

vim.defer_fn(function() -- watchdog: never hang the test
  table.insert(report.errors, "watchdog: no result in time")
  finish(3)
end, tonumber(os.getenv("WATCHDOG_MS") or "150000"))

local function wait(ms, cond, what)
  if not vim.wait(ms, cond, 20) then
    fail("timed out waiting for " .. what)
  end
end

-- the screen as the user sees it: every cell's text and colours, read from Neovim's own grid
local function capture(name)
  vim.cmd("redraw")
  local normal = vim.api.nvim_get_hl(0, { name = "Normal", link = false })
  local screen = { name = name, rows = {}, cursor = vim.api.nvim_win_get_cursor(0) }
  screen.normal = { fg = normal.fg or 0xe0e2ea, bg = normal.bg or 0x14161b }
  local at = vim.fn.screenpos(0, screen.cursor[1], screen.cursor[2] + 1)
  screen.cursor_screen = { at.row, at.col }
  -- the text first (inspecting a cell of the message area would clear it), then the colours of the rows
  -- above it; the message area's cells live on the message grid and keep the default colours
  local texts = {}
  for r = 1, vim.o.lines do
    texts[r] = {}
    for c = 1, vim.o.columns do
      texts[r][c] = vim.fn.screenstring(r, c)
    end
  end
  for r = 1, vim.o.lines do
    local row = {}
    for c = 1, vim.o.columns do
      local attrs = {}
      if r <= vim.o.lines - vim.o.cmdheight then
        local ok, cell = pcall(vim.api.nvim__inspect_cell, 1, r - 1, c - 1)
        attrs = ok and cell[2] or {}
      end
      table.insert(row, {
        texts[r][c],
        attrs.foreground or vim.NIL,
        attrs.background or vim.NIL,
        attrs.bold and true or false,
        attrs.reverse and true or false,
      })
    end
    table.insert(screen.rows, row)
  end
  table.insert(report.screens, screen)
end

-- what the plugin tells the user (wrapped again here in case setup() was not called by the init)
local function messages_matching(pattern)
  local found = {}
  for _, m in ipairs(report.messages) do
    if tostring(m.msg):find(pattern) then
      table.insert(found, m)
    end
  end
  return found
end

local function result_message()
  for _, m in ipairs(report.messages) do
    local msg = tostring(m.msg)
    if msg:find("^VisCodex: verified") or msg:find("^VisCodex: best effort") or m.level == vim.log.levels.ERROR then
      return m
    end
  end
end

-- progress as any LspProgress consumer (fidget.nvim, a statusline) sees it
-- one autocommand per pattern (begin, report, end), as `autocmd LspProgress end ...` in a config would be
for _, pattern in ipairs({ "begin", "report", "end" }) do
  vim.api.nvim_create_autocmd("LspProgress", {
    pattern = pattern,
    callback = function(ev)
      local value = ev.data.params.value
      table.insert(report.events, {
        pattern = pattern,
        kind = value.kind,
        message = value.message or vim.NIL,
        title = value.title or vim.NIL,
        token = ev.data.params.token,
        status = require("viscodex").status(),
      })
    end,
  })
end

local function client_ready()
  local c = vim.lsp.get_clients({ name = "viscodex", bufnr = 0 })[1]
  return c ~= nil and c.initialized
end

-- a command as typed: an error message it gives (vim.notify at ERROR) aborts the Ex command, which vim.cmd
-- turns into a Lua error; the message itself is recorded with the others
local function ex(cmdline)
  local ok, err = pcall(vim.cmd, cmdline)
  report.command_errors = report.command_errors or {}
  if not ok then
    table.insert(report.command_errors, tostring(err))
  end
end

local scenarios = {}

-- :VisCodex path in a Python buffer, at the cursor; optionally a second run over a range
function scenarios.insert()
  vim.o.columns, vim.o.lines = 100, 26
  vim.o.laststatus = 2
  vim.o.statusline = " %f %m%=%{v:lua.require'viscodex'.status()} "
  vim.cmd.edit(vim.fn.fnamemodify(assert(os.getenv("DOC")), ":."))
  wait(20000, client_ready, "the server to start for a python buffer")
  report.client_count = #vim.lsp.get_clients({ name = "viscodex" })
  vim.api.nvim_win_set_cursor(0, { tonumber(os.getenv("LINE")), 0 })
  local resetup = os.getenv("RESETUP") -- setup() again, with other settings: they reach the running server
  if resetup then
    require("viscodex").setup(vim.json.decode(resetup))
  end
  local range = os.getenv("RANGE") -- "visual:FIRST,LAST": select those lines with V, as a user does
  local prefix = ""
  if range then
    local first, last = range:match("^visual:(%d+),(%d+)$")
    vim.cmd(string.format("normal! %sGV%sG\27", first, last))
    prefix = "'<,'>"
  end
  ex(prefix .. "VisCodex " .. vim.fn.fnameescape(assert(os.getenv("IMAGE"))))
  if os.getenv("TYPE_DURING_RUN") then -- the user goes on typing while the model thinks
    wait(60000, function()
      return require("viscodex").status():find("generating", 1, true) ~= nil
    end, "the model to be asked")
    vim.api.nvim_buf_set_lines(0, 0, 0, false, { os.getenv("TYPE_DURING_RUN") })
  end
  local screen_at = os.getenv("SCREEN_AT") -- a step of the progress to take a screenshot at
  if screen_at then
    wait(120000, function()
      return require("viscodex").status():find(screen_at, 1, true) ~= nil or result_message() ~= nil
    end, "the step " .. screen_at)
    capture("progress")
  end
  wait(120000, result_message, "the run's result")
  vim.wait(200) -- let the echo of the progress end be replaced by the result's message, as a user sees it
  capture("result")
  report.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  report.register_v = vim.fn.getreg("v")
  report.modified = vim.bo.modified
  report.status_after = require("viscodex").status()
  finish(0)
end

-- the server's code action on a Markdown image reference, through vim.lsp.buf.code_action()
function scenarios.code_action()
  vim.cmd.edit(assert(os.getenv("DOC")))
  wait(20000, client_ready, "the server to start for a markdown buffer")
  vim.api.nvim_win_set_cursor(0, { 3, 4 })
  report.titles = {}
  vim.ui.select = function(items, opts, on_choice) -- the user picks "Generate code from image"
    for i, item in ipairs(items) do
      local title = item.action and item.action.title or tostring(item)
      table.insert(report.titles, title)
      if title:find("Generate code from image", 1, true) then
        return on_choice(item, i)
      end
    end
    on_choice(nil, nil)
  end
  vim.lsp.buf.code_action()
  wait(120000, result_message, "the code action's result")
  report.current_buffer = vim.api.nvim_buf_get_name(0)
  report.current_lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  report.note_lines = vim.api.nvim_buf_get_lines(vim.fn.bufnr(os.getenv("DOC")), 0, -1, false)
  finish(0)
end

-- "Fix with a screenshot..." on a diagnostic (of another source: a linter's), through
-- require("viscodex").code_action(); the user gives the screenshot's path when asked
function scenarios.fix()
  vim.cmd.edit(assert(os.getenv("DOC")))
  wait(20000, client_ready, "the server to start")
  local ns = vim.api.nvim_create_namespace("a-linter")
  vim.diagnostic.set(ns, 0, {
    { lnum = 4, col = 4, end_col = 16, message = "test_add fails: assert -1 == 5", severity = vim.diagnostic.severity.ERROR },
  })
  vim.api.nvim_win_set_cursor(0, { 5, 4 })
  report.titles = {}
  vim.ui.select = function(items, opts, on_choice)
    for i, item in ipairs(items) do
      local title = item.action and item.action.title or tostring(item)
      table.insert(report.titles, title)
      if title:find("Fix with a screenshot", 1, true) then
        return on_choice(item, i)
      end
    end
    on_choice(nil, nil)
  end
  vim.ui.input = function(opts, on_confirm)
    report.input_prompt = opts.prompt
    on_confirm(assert(os.getenv("IMAGE")))
  end
  require("viscodex").code_action()
  wait(120000, result_message, "the fix's result")
  report.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local util = vim.fn.bufnr(assert(os.getenv("OTHER")))
  report.other_lines = util ~= -1 and vim.api.nvim_buf_get_lines(util, 0, -1, false) or vim.NIL
  finish(0)
end

-- :VisCodexCancel while the sandbox runs the code; the test checks the container, then lets us exit
function scenarios.cancel()
  vim.cmd.edit(assert(os.getenv("DOC")))
  wait(20000, client_ready, "the server to start")
  ex("VisCodex " .. vim.fn.fnameescape(assert(os.getenv("IMAGE"))))
  wait(120000, function()
    for _, e in ipairs(report.events) do
      if e.kind == "report" and tostring(e.message):find("running", 1, true) then
        return true
      end
    end
    return result_message() ~= nil
  end, "the sandbox to run the code")
  local f = assert(io.open(out .. ".running", "w"))
  f:close()
  wait(60000, function() -- the test has seen the busy container
    return vim.uv.fs_stat(out .. ".go") ~= nil
  end, "the test's go-ahead")
  report.runs_before = vim.tbl_count(require("viscodex.run").runs)
  local started = vim.uv.hrtime()
  report.cancelled = require("viscodex").cancel()
  wait(20000, function()
    local last = report.events[#report.events]
    return last and last.kind == "end"
  end, "the progress to end")
  report.end_after_s = (vim.uv.hrtime() - started) / 1e9
  report.runs_after = vim.tbl_count(require("viscodex.run").runs)
  report.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  ex("VisCodexCancel") -- nothing left to cancel
  local ff = assert(io.open(out .. ".cancelled", "w"))
  ff:write(vim.json.encode(report))
  ff:close()
  wait(60000, function()
    return vim.uv.fs_stat(out .. ".done") ~= nil
  end, "the test's container check")
  finish(0)
end

-- :VisCodex without a path: the clipboard (or the message naming what to install)
function scenarios.clipboard()
  vim.cmd.edit(assert(os.getenv("DOC")))
  wait(20000, client_ready, "the server to start")
  vim.api.nvim_win_set_cursor(0, { tonumber(os.getenv("LINE") or "1"), 0 })
  ex("VisCodex")
  wait(120000, result_message, "the result or the error")
  report.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  finish(0)
end

-- where the code goes, without a server: the cursor rule, a characterwise selection with multibyte
-- characters (in UTF-16 and UTF-8 positions) and a linewise one
function scenarios.selection()
  local run = require("viscodex.run")
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "héllo wörld 😀 end", "second line", "", "last" })
  local out = {}
  vim.api.nvim_win_set_cursor(0, { 2, 3 })
  out.on_text = run.lsp_where(buf, run.cursor(buf, 0), "utf-16")
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  out.on_blank = run.lsp_where(buf, run.cursor(buf, 0), "utf-16")
  -- "wörld 😀": from the w (byte 7) to the emoji (bytes 14-17), selected with v as a user does
  vim.api.nvim_win_set_cursor(0, { 1, 7 })
  vim.cmd("normal! v")
  vim.api.nvim_win_set_cursor(0, { 1, 14 })
  vim.cmd("normal! \27")
  local where = run.selection(buf, { 1, 1 })
  out.char_utf16 = run.lsp_where(buf, where, "utf-16")
  out.char_utf8 = run.lsp_where(buf, where, "utf-8")
  vim.cmd("normal! 2GV3G\27")
  out.lines = run.lsp_where(buf, run.selection(buf, { 2, 3 }), "utf-16")
  report.selection = out
  finish(0)
end

function scenarios.health()
  vim.cmd("checkhealth viscodex")
  report.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  finish(0)
end

local run = scenarios[scenario]
if not run then
  fail("no scenario " .. scenario)
end
local ok, err = pcall(run)
if not ok then
  fail("scenario failed: " .. tostring(err))
end
