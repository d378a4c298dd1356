"""The Textual UI. It talks to a ChatBackend only: no SQL, no sockets here."""
