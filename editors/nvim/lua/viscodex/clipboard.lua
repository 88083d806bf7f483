-- The clipboard's image, through the platform's tool (as img-clip.nvim reads it): wl-paste on Wayland,
-- xclip on X11, pngpaste (else osascript) on macOS, PowerShell on Windows and WSL.
local M = {}

local TIMEOUT_MS = 10000

---@param cmd string[]
---@return string|nil stdout
---@return string|nil error
local function run(cmd)
  local ok, proc = pcall(vim.system, cmd, { text = false })
  if not ok then
    return nil, tostring(proc)
  end
  local result = proc:wait(TIMEOUT_MS)
  if result.code ~= 0 then
    local why = (result.stderr or ""):gsub("%s+$", "")
    return nil, string.format("`%s` failed (exit %s)%s", cmd[1], tostring(result.code), why ~= "" and (": " .. why) or "")
  end
  return result.stdout or "", nil
end

local function has(name)
  return vim.fn.executable(name) == 1
end

local function windows()
  return vim.fn.has("win32") == 1 or vim.fn.has("wsl") == 1
end

--- The tool to read the clipboard's image with here, or nil and what to install.
---@return string|nil tool
---@return string|nil advice
function M.tool()
  if windows() then
    for _, name in ipairs({ "powershell.exe", "pwsh.exe", "powershell" }) do
      if has(name) then
        return name, nil
      end
    end
    return nil, "PowerShell (powershell.exe) is not on PATH"
  end
  if vim.fn.has("mac") == 1 then
    if has("pngpaste") then
      return "pngpaste", nil
    elseif has("osascript") then
      return "osascript", nil
    end
    return nil, "install pngpaste (`brew install pngpaste`)"
  end
  local wayland, x11 = os.getenv("WAYLAND_DISPLAY"), os.getenv("DISPLAY")
  if wayland and wayland ~= "" and has("wl-paste") then
    return "wl-paste", nil
  end
  if x11 and x11 ~= "" and has("xclip") then
    return "xclip", nil
  end
  if (not wayland or wayland == "") and (not x11 or x11 == "") then
    return nil,
      "no graphical session here (neither WAYLAND_DISPLAY nor DISPLAY is set); where there is one, install "
        .. "wl-clipboard (wl-paste, Wayland) or xclip (X11)"
  end
  if wayland and wayland ~= "" then
    return nil, "install wl-clipboard (for wl-paste; e.g. `apt install wl-clipboard`)"
  end
  return nil, "install xclip (e.g. `apt install xclip`)"
end

local function first_image_type(listing)
  if listing:find("image/png", 1, true) then
    return "image/png"
  end
  return listing:match("(image/[%w%.%+%-]+)")
end

--- The clipboard's image as base64, with its mime type; or nil and a message that says what to do.
---@return {data: string, mime: string}|nil
---@return string|nil error
function M.read()
  local tool, advice = M.tool()
  if not tool then
    return nil, "VisCodex: cannot read a clipboard image: " .. advice .. "; or give a file: :VisCodex path/to/image.png"
  end
  local bytes, err, mime = nil, nil, "image/png"
  if tool == "wl-paste" or tool == "xclip" then
    local list_cmd = tool == "wl-paste" and { "wl-paste", "--list-types" }
      or { "xclip", "-selection", "clipboard", "-t", "TARGETS", "-o" }
    local listing
    listing, err = run(list_cmd)
    if listing then
      mime = first_image_type(listing)
      if not mime then
        local types = vim.trim(listing:gsub("%s+", " "))
        return nil,
          "VisCodex: the clipboard holds no image (it has: "
            .. (types ~= "" and types or "nothing")
            .. "); copy a picture, or give a file: :VisCodex path/to/image.png"
      end
      local read_cmd = tool == "wl-paste" and { "wl-paste", "--no-newline", "--type", mime }
        or { "xclip", "-selection", "clipboard", "-t", mime, "-o" }
      bytes, err = run(read_cmd)
    end
  elseif tool == "pngpaste" then
    bytes, err = run({ "pngpaste", "-" })
  elseif tool == "osascript" then
    local file = vim.fn.tempname() .. ".png"
    local script = string.format(
      'set f to (open for access POSIX file "%s" with write permission)\n'
        .. "try\nwrite (the clipboard as «class PNGf») to f\nend try\nclose access f",
      file
    )
    bytes, err = run({ "osascript", "-e", script })
    if bytes then
      local fh = io.open(file, "rb")
      bytes = fh and fh:read("*a") or ""
      if fh then
        fh:close()
      end
      os.remove(file)
    end
  else -- PowerShell: it prints base64 itself
    local script = "Add-Type -AssemblyName System.Windows.Forms; Add-Type -AssemblyName System.Drawing; "
      .. "$i = [System.Windows.Forms.Clipboard]::GetImage(); if ($i -eq $null) { exit 3 }; "
      .. "$m = New-Object System.IO.MemoryStream; $i.Save($m, [System.Drawing.Imaging.ImageFormat]::Png); "
      .. "[System.Convert]::ToBase64String($m.ToArray())"
    local out
    out, err = run({ tool, "-NoProfile", "-NonInteractive", "-Command", script })
    if out then
      out = out:gsub("%s", "")
      if out == "" then
        return nil, "VisCodex: the clipboard holds no image; copy a picture, or give a file: :VisCodex path"
      end
      return { data = out, mime = "image/png" }, nil
    end
  end
  if not bytes then
    return nil, "VisCodex: reading the clipboard image failed: " .. (err or "?")
  end
  if #bytes == 0 then
    return nil, "VisCodex: the clipboard holds no image; copy a picture, or give a file: :VisCodex path/to/image.png"
  end
  return { data = vim.base64.encode(bytes), mime = mime }, nil
end

return M
