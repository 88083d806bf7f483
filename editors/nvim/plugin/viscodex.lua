-- Only the commands: nothing is loaded until one is used, and setup() is the user's to call.
if vim.g.loaded_viscodex then
  return
end
vim.g.loaded_viscodex = true

if not vim.api.nvim_create_user_command then -- before Neovim 0.7: say what is needed, on use
  vim.cmd([[command! -nargs=? -range VisCodex lua require("viscodex.version").check()]])
  vim.cmd([[command! VisCodexCancel lua require("viscodex.version").check()]])
  return
end

vim.api.nvim_create_user_command("VisCodex", function(cmd)
  require("viscodex").image_to_code({
    path = cmd.args ~= "" and cmd.args or nil,
    range = cmd.range > 0 and { cmd.line1, cmd.line2 } or nil,
  })
end, {
  nargs = "?",
  range = true,
  complete = "file",
  desc = "VisCodex: code from an image file (or the clipboard image), at the cursor or over the range",
})

vim.api.nvim_create_user_command("VisCodexCancel", function()
  require("viscodex").cancel()
end, { desc = "VisCodex: cancel the running image-to-code runs" })
