"""notegen: melody completion for Sonic Pi, served by a language server."""

__version__ = "0.1.0"
