-- Keep-alive: slides data and timeout key. 1.
--! include legacy.prologue
slide()
return 1
