-- A picture for the request: a file (by URI when it is inside the workspace, so a whole-file result lands
-- next to it; else its bytes) or the clipboard's image.
local M = {}

local MIME = { png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", webp = "image/webp", gif = "image/gif", bmp = "image/bmp" }

---@param path string
---@param root string
---@return table|nil image {uri} or {data, mime}
---@return string|nil error
function M.from_file(path, root)
  local full = vim.fs.normalize(vim.fn.fnamemodify(vim.fn.expand(path), ":p"))
  if vim.fn.filereadable(full) ~= 1 then
    return nil, string.format("VisCodex: no image file %s (give a png, jpg, webp, gif or bmp file)", full)
  end
  local real = vim.uv.fs_realpath(full) or full
  local real_root = vim.uv.fs_realpath(root) or root
  if vim.startswith(real, real_root .. "/") then
    return { uri = vim.uri_from_fname(real) }, nil
  end
  local fh = io.open(real, "rb")
  if not fh then
    return nil, "VisCodex: cannot read " .. real
  end
  local bytes = fh:read("*a")
  fh:close()
  local ext = (real:match("%.(%w+)$") or ""):lower()
  return { data = vim.base64.encode(bytes), mime = MIME[ext] }, nil
end

--- The image of `path`, or of the clipboard when path is nil.
---@param path string|nil
---@param root string
function M.get(path, root)
  if path then
    return M.from_file(path, root)
  end
  return require("viscodex.clipboard").read()
end

return M
