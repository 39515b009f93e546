-- Headless Neovim as a real LSP client of notegen-lsp, for tests/editor/test_neovim.py.
--
-- Written for Neovim 0.7 (Debian bookworm's), whose built-in client has no vim.lsp.start yet:
-- vim.lsp.start_client + vim.lsp.buf_attach_client do the same. Everything the test needs comes
-- from $NOTEGEN_E2E (a JSON object: cmd, doc, cursor, init_options, generate, result); every
-- outcome, including a Lua error, goes to the JSON file at `result`, then Neovim quits.
local cfg = vim.fn.json_decode(os.getenv("NOTEGEN_E2E"))
local result = { steps = {} }

local function step(name)
  table.insert(result.steps, name)
end

local function write_result()
  local file = assert(io.open(cfg.result, "w"))
  file:write(vim.fn.json_encode(result))
  file:close()
end

local function labels_of(response)
  local list = {}
  local items = response.result and (response.result.items or response.result) or {}
  for _, item in ipairs(items) do
    table.insert(list, { label = item.label, kind = item.kind, sortText = item.sortText,
                         detail = item.detail, textEdit = item.textEdit,
                         insertText = item.insertText })
  end
  return list
end

local function run()
  vim.lsp.set_log_level("debug")
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.doc))
  local bufnr = vim.api.nvim_get_current_buf()
  result.nvim_version = tostring(vim.version().major) .. "." .. tostring(vim.version().minor)
    .. "." .. tostring(vim.version().patch)
  result.has_lsp_start = vim.lsp.start ~= nil

  local client_id = vim.lsp.start_client({
    name = "notegen",
    cmd = cfg.cmd,
    root_dir = vim.fn.fnamemodify(cfg.doc, ":p:h"),
    init_options = cfg.init_options,
    on_exit = function(code, signal)
      result.server_exit = { code = code, signal = signal }
    end,
  })
  assert(client_id, "vim.lsp.start_client returned nil")
  vim.lsp.buf_attach_client(bufnr, client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  assert(vim.wait(20000, function() return client.initialized end, 20), "server never initialized")
  step("initialized")
  result.server_capabilities = client.server_capabilities or client.resolved_capabilities

  -- Completion with the cursor inside the note array, as the user would trigger it after ','.
  vim.api.nvim_win_set_cursor(0, { cfg.cursor[1] + 1, cfg.cursor[2] })
  local params = vim.lsp.util.make_position_params()
  params.context = { triggerKind = 2, triggerCharacter = "," }
  result.completion_position = params.position
  local responses, err = vim.lsp.buf_request_sync(bufnr, "textDocument/completion", params, 20000)
  assert(responses, "completion request failed: " .. tostring(err))
  result.completion = {}
  for _, response in pairs(responses) do
    if response.err or response.error then
      result.completion_error = vim.inspect(response.err or response.error)
    end
    vim.list_extend(result.completion, labels_of(response))
  end
  step("completed")

  -- Generate a block at the end of the document; the server applies it with workspace/applyEdit,
  -- which Neovim's default handler applies to the buffer before the command's answer arrives.
  local args = vim.deepcopy(cfg.generate)
  args.uri = vim.uri_from_bufnr(bufnr)
  args.position = { line = vim.api.nvim_buf_line_count(bufnr), character = 0 }
  local answered = false
  client.request("workspace/executeCommand",
    { command = "notegen.generateMelody", arguments = { args } },
    function(cmd_err, cmd_result)
      answered = true
      result.command_error = cmd_err and vim.inspect(cmd_err) or nil
      result.command_result = cmd_result
    end, bufnr)
  assert(vim.wait(30000, function() return answered end, 20), "generateMelody never answered")
  step("generated")
  result.lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  result.server_alive = not vim.lsp.client_is_stopped(client_id)
  vim.lsp.stop_client(client_id)
  vim.wait(5000, function() return vim.lsp.client_is_stopped(client_id) end, 20)
end

vim.api.nvim_create_autocmd("VimEnter", {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, message = xpcall(run, debug.traceback)
      if not ok then
        result.error = message
      end
      result.lsp_log = vim.lsp.get_log_path()
      write_result()
      vim.cmd("qa!")
    end)
  end,
})
