-- num(v): a number read from Redis is trusted only when it is 1 to 16 digits and below 2^53 (so exact in Lua);
--   tonumber alone would take '1e6', '5.5', '0x10', '-1' or ' 7'.
local function num(v)
  if type(v) ~= 'string' or #v < 1 or #v > 16 or not string.find(v, '^%d+$') then
    return nil
  end
  local n = tonumber(v)
  if n > 9007199254740991 then
    return nil
  end
  return n
end
