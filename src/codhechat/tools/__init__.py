"""Tools the model may call, from MCP servers declared in the config file.

`settings` is the `[mcp]` table; `toolbox` is what a turn uses (the tools on offer,
who may run what, calling one); `mcp_client` speaks to the servers with the official
`mcp` SDK, imported only when a server is first started (it costs over a second).
"""
