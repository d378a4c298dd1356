"""Remote mode: the ChatBackend over a CoDHeChat server (REST with httpx, replies over /ws).

Modules, by concern; each imports only modules listed below it (no circles):

- `backend`: RemoteBackend, the facade the UI talks to, and its conversation cache;
- `exchange`: one prompt and its reply, frames in, ReplyEvents out;
- `link`: the one WebSocket, kept up by itself: connect, header -> `?token=` fallback,
  backoff, the connection state the status line shows;
- `routing`: every frame read once (codhechat.protocol.parse_frame) and handed to the
  request it names;
- `api`: the REST routes, answers read as codhechat.protocol.rest models;
- `signin`: a guest or an account, tokens renewed ahead of expiry;
- `tokens`: Credentials and the TokenStore (a file per server, readable by the user only);
- `address`, `errors`: server addresses; every failure in words (RemoteError).
"""

from codhechat.backends.remote.address import normalize_server
from codhechat.backends.remote.api import ServerApi
from codhechat.backends.remote.backend import RemoteBackend
from codhechat.backends.remote.errors import AuthError, FatalRemoteError, RemoteError
from codhechat.backends.remote.tokens import Credentials, TokenStore

__all__ = [
    "AuthError",
    "Credentials",
    "FatalRemoteError",
    "RemoteBackend",
    "RemoteError",
    "ServerApi",
    "TokenStore",
    "normalize_server",
]
