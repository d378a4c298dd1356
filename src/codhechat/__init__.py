"""codhechat: a terminal chat client for LLMs.

Importing the package must stay cheap: the CLI imports it before deciding
whether the UI, or anything heavy, is needed at all.
"""

__version__ = "0.1.0"
