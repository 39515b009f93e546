"""Your own music as training data: MIDI, MusicXML, ABC and Sonic Pi files → streamed examples.

``files`` expands ``--corpus PATH…`` (files, folders, globs) into typed sources; ``read`` turns
one file into :class:`~.piece.Piece` objects with the readers ``midi`` (mido), ``musicxml`` and
``abc`` (music21) and ``sonicpi`` (the server's own reader); ``shards`` converts a corpus once
into compressed TFRecord shards with a cache keyed by file content; ``stream`` reads them back
with ``tf.data``; ``distributed`` trains from the stream on one worker or many.
"""
