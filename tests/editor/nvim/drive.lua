-- Drives headless Neovim AFTER the README's own snippet (tests/editor/test_neovim.py writes
-- init.lua = README's common snippet + the snippet for this Neovim + dofile(this file)).
-- Nothing here starts or configures the server: the README's autocommand and mapping do.
-- Everything comes from $NOTEGEN_E2E (rails, doc, empty, cursor, result); every outcome,
-- including a Lua error, goes to the JSON file at `result`, then Neovim quits.
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

local function clients()
  return (vim.lsp.get_clients or vim.lsp.get_active_clients)()  -- get_clients: 0.10+
end

local function labels_of(response)
  local list = {}
  local items = response.result and (response.result.items or response.result) or {}
  for _, item in ipairs(items) do
    table.insert(list, { label = item.label, kind = item.kind, sortText = item.sortText,
                         detail = item.detail })
  end
  return list
end

-- The README's mapping, pressed as a user would: `\mg` in normal mode.
local function press_generate(bufnr)
  local before = vim.api.nvim_buf_line_count(bufnr)
  local keys = vim.api.nvim_replace_termcodes("<leader>mg", true, false, true)
  vim.api.nvim_feedkeys(keys, "x", false)
  return vim.wait(30000, function() return vim.api.nvim_buf_line_count(bufnr) > before + 3 end, 20)
end

local function run()
  vim.lsp.set_log_level("debug")
  local v = vim.version()
  result.nvim_version = v.major .. "." .. v.minor .. "." .. v.patch

  -- 1. A Rails controller: the README's snippet must not start the server for it.
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.rails))
  result.filetype_rails = vim.bo.filetype
  result.clients_after_rails = #clients()
  step("rails")

  -- 2. The Sonic Pi file: the snippet starts notegen and attaches it.
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.doc))
  local bufnr = vim.api.nvim_get_current_buf()
  assert(vim.wait(20000, function()
    local c = clients()[1]
    return c ~= nil and c.initialized
  end, 20), "the README's snippet started no server for the Sonic Pi file")
  local client = clients()[1]
  result.client_name = client.name
  result.attached = vim.lsp.buf_is_attached(bufnr, client.id)
  result.omnifunc = vim.bo[bufnr].omnifunc
  result.server_capabilities = client.server_capabilities or client.resolved_capabilities
  step("initialized")

  -- 3. Completion with the cursor inside the note array, as omnifunc asks for it.
  vim.api.nvim_win_set_cursor(0, { cfg.cursor[1] + 1, cfg.cursor[2] })
  local params = vim.lsp.util.make_position_params()
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

  -- 4. The README's \mg on the last line: a block below it.
  vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(bufnr), 0 })
  assert(press_generate(bufnr), "\\mg inserted nothing in the Sonic Pi file")
  result.lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  step("generated")

  -- 5. A new, empty .rb file: \mg on its only line starts the piece on line 1.
  vim.cmd("silent! write")
  vim.cmd("edit " .. vim.fn.fnameescape(cfg.empty))
  local empty = vim.api.nvim_get_current_buf()
  assert(vim.wait(10000, function() return vim.lsp.buf_is_attached(empty, client.id) end, 20),
    "the snippet did not attach notegen to an empty .rb file")
  assert(press_generate(empty), "\\mg inserted nothing in the empty file")
  result.empty_lines = vim.api.nvim_buf_get_lines(empty, 0, -1, false)
  step("generatedInEmpty")

  -- 6. Completion as you type (0.11 snippet): `,` at the end of the notes, the longest phrase
  --    picked from the menu; its command (run by vim.lsp.completion) fills b1[0].
  if cfg.phrase ~= vim.NIL and cfg.phrase ~= nil then
    vim.cmd("silent! write")
    vim.cmd("edit " .. vim.fn.fnameescape(cfg.phrase))
    local buf = vim.api.nvim_get_current_buf()
    assert(vim.wait(10000, function() return vim.lsp.buf_is_attached(buf, client.id) end, 20),
      "notegen did not attach to " .. cfg.phrase)
    local durations = vim.api.nvim_buf_get_lines(buf, cfg.end_of_notes[1] + 1, cfg.end_of_notes[1] + 2, false)[1]
    vim.api.nvim_win_set_cursor(0, { cfg.end_of_notes[1] + 1, cfg.end_of_notes[2] })
    -- feedkeys "x!" stays in Insert mode until something ends it: the menu is read, the phrase
    -- picked and Insert mode left from a timer, as a user's keys would do it.
    -- The server's first menu at a new cursor holds its notes only (it computes the phrase
    -- after answering): without a phrase the menu is asked for again (vim.lsp.completion.get,
    -- as a user's <C-x><C-o> would), every 200 ms.
    local phrase
    local give_up = (vim.uv or vim.loop).now() + 20000
    local polls = 0
    local function pick()
      for i, item in ipairs(vim.fn.complete_info({ "items" }).items) do
        if item.word:find(",") and (phrase == nil or #item.word > #phrase.word) then
          phrase = { index = i - 1, word = item.word }
        end
      end
      polls = polls + 1
      if phrase ~= nil then
        vim.api.nvim_select_popupmenu_item(phrase.index, true, true, {})
        vim.cmd("stopinsert")
      elseif (vim.uv or vim.loop).now() < give_up then
        if polls % 4 == 0 then
          pcall(vim.lsp.completion.get)
        end
        vim.defer_fn(pick, 50)
      else
        vim.cmd("stopinsert")
      end
    end
    vim.defer_fn(pick, 50)
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("i,", true, false, true), "x!", false)
    assert(phrase, "no phrase in the completion menu after typing ','")
    result.phrase = phrase.word
    assert(vim.wait(20000, function()
      return vim.api.nvim_buf_get_lines(buf, cfg.end_of_notes[1] + 1, cfg.end_of_notes[1] + 2, false)[1] ~= durations
    end, 50), "b1[0] did not change after the phrase was accepted")
    result.phrase_lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    step("phraseAccepted")
  end

  result.clients_at_end = #clients()
  result.server_alive = not vim.lsp.client_is_stopped(client.id)
  vim.lsp.stop_client(client.id)
  vim.wait(5000, function() return vim.lsp.client_is_stopped(client.id) end, 20)
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
