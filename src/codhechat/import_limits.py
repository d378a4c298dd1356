"""What an import reads at most (`codhechat import`, and a server's `POST /import`): kept
apart, with no imports, so `codhechat --help` loads nothing for them."""

IMPORT_MAX_MB, IMPORT_MAX_DEPTH, IMPORT_MAX_CONVERSATIONS = 256, 64, 100_000
