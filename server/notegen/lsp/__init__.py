"""The language server: :mod:`notegen.lsp.server` wires pygls to the features (completion,
ghost text, commands, diagnostics, hover, play), which take what they need (a document view,
the engine, the settings) and never import the server.

The last step of the data's path before sound: the piece read from the text
(:mod:`notegen.sonicpi`) and the notes the model gives (:mod:`notegen.model`) become edits.
"""
