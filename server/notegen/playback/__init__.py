"""Playback: the notes heard in a running Sonic Pi (3.x, 4.x and 5) over OSC, rendered to
audio by it, or written as MIDI; the snippets of code it runs; the ``play``/``render``/``midi``
command lines.

The end of the data's path (text, piece, model, notes, then sound): nothing here imports the
model or the language server.
"""
