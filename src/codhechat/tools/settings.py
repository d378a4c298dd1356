"""The `[mcp]` table of the config file: MCP servers and how far a turn may go with them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class McpServerSettings(BaseModel):
    """One MCP server: `[mcp.servers.NAME]`. A stdio server is a `command` (with `args`)
    run as a subprocess; a streamable-HTTP one is a `url` (with `headers`). The
    subprocess gets only a minimal environment (PATH, HOME, USER, ...) plus `env`:
    never the user's API keys unless named here."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = Field(default=None, description="The program to run (stdio).")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables it gets.")
    cwd: str | None = Field(default=None, description="Its working directory.")
    url: str | None = Field(default=None, description="A streamable-HTTP server's URL.")
    headers: dict[str, str] = Field(default_factory=dict, description="Headers sent to it.")
    allow: list[str] = Field(default_factory=list, description="Tools that run without asking.")
    enabled: bool = Field(default=True, description="Offer its tools (false: keep it declared but off).")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either `command` (a stdio server) or `url` (streamable HTTP), not both")
        return self

    @property
    def where(self) -> str:
        """The server as messages name it (never its headers or environment)."""
        return self.url if self.url is not None else " ".join([self.command or "", *self.args]).strip()


class McpSettings(BaseModel):
    """`[mcp]`: the servers, and the loop guard."""

    model_config = ConfigDict(extra="forbid")

    servers: dict[str, McpServerSettings] = Field(default_factory=dict)
    max_rounds: int = Field(default=8, ge=1, le=100, description="Tool rounds a turn may take, at most.")
    start_timeout: float = Field(default=30.0, gt=0, description="Seconds a server may take to start.")
    call_timeout: float = Field(default=120.0, gt=0, description="Seconds a tool call may take.")
