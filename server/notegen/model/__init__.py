"""The model: the network, its experts (copy model, training tunes, rhythm, imitation,
consonance, repeats), sampling and generation, and the model's reading of transcription slips.

Data flows one way: :mod:`notegen.sonicpi` reads the text into a piece, this package turns
the piece into notes, :mod:`notegen.lsp` turns them into edits. Nothing here imports the
language server or playback.
"""
