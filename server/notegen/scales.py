"""Sonic Pi's scales (``scale.rb``) by the names a Sonic Pi user types (``:major``,
``:minor_pentatonic``, ``:dorian``...): the intervals of each, in semitones.

Vocabulary shared by the reader (a ``scale(:e3, :dorian)`` in a ring, the names Sonic Pi
knows) and the model's key masks (:mod:`notegen.model.sampling`), as :mod:`notegen.notes` is
for note names. Turkish makams use fractions of a semitone (komas of 12/53), as Sonic Pi
defines them.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["SCALES"]

_IONIAN = (2, 2, 1, 2, 2, 2, 1)
_HEX = (2, 2, 1, 2, 2, 3)
_PENTA = (3, 2, 2, 3, 2)


def _rot(seq: Sequence[float], n: int) -> tuple[float, ...]:
    return tuple(seq[n:]) + tuple(seq[:n])


# Turkish makam building blocks, in komas of 12/53 semitone (as Sonic Pi defines them).
_K = 12.0 / 53
_BAK, _KUC, _BUY, _TAN, _ART = 4 * _K, 5 * _K, 8 * _K, 9 * _K, 12 * _K
_CARGAH_D = (_TAN, _TAN, _BAK)
_BUSELIK_D = (_TAN, _BAK, _TAN)
_KURDI_D = (_BAK, _TAN, _TAN)
_RAST_D = (_TAN, _BUY, _KUC)
_USSAK_D = (_BUY, _KUC, _TAN)
_HICAZ_D = (_KUC, _ART, _KUC)
_CARGAH_B = (*_CARGAH_D, _TAN)
_BUSELIK_B = (*_BUSELIK_D, _TAN)
_KURDI_B = (*_KURDI_D, _TAN)
_RAST_B = (*_RAST_D, _TAN)
_HUSEYNI_B = (_BUY, _KUC, _TAN, _TAN)
_HICAZ_B = (*_HICAZ_D, _TAN)
_SEGAH_D = (_KUC, _TAN, _BUY)
_TAM_SEGAH_B = (*_SEGAH_D, _TAN)
_EKSIK_SEGAH_B = (*_SEGAH_D, _KUC)
_MUSTEAR_D = (_TAN, _KUC, _BUY)
_HUZZAM_B = (_KUC, _TAN, _KUC, _ART)
_NIKRIZ_B = (_TAN, _KUC, _ART, _KUC)
_TAM_FERAHNAK_B = (_KUC, _TAN, _TAN, _BUY)
_EKSIK_FERAHNAK_B = (_KUC, _TAN, _TAN, _BAK)

SCALES: dict[str, tuple[float, ...]] = {
    "diatonic": _IONIAN,
    "ionian": _IONIAN,
    "major": _IONIAN,
    "dorian": _rot(_IONIAN, 1),
    "phrygian": _rot(_IONIAN, 2),
    "lydian": _rot(_IONIAN, 3),
    "mixolydian": _rot(_IONIAN, 4),
    "aeolian": _rot(_IONIAN, 5),
    "minor": _rot(_IONIAN, 5),
    "locrian": _rot(_IONIAN, 6),
    "hex_major6": _HEX,
    "hex_dorian": _rot(_HEX, 1),
    "hex_phrygian": _rot(_HEX, 2),
    "hex_major7": _rot(_HEX, 3),
    "hex_sus": _rot(_HEX, 4),
    "hex_aeolian": _rot(_HEX, 5),
    "minor_pentatonic": _PENTA,
    "yu": _PENTA,
    "major_pentatonic": _rot(_PENTA, 1),
    "gong": _rot(_PENTA, 1),
    "egyptian": _rot(_PENTA, 2),
    "shang": _rot(_PENTA, 2),
    "jiao": _rot(_PENTA, 3),
    "zhi": _rot(_PENTA, 4),
    "ritusen": _rot(_PENTA, 4),
    "whole_tone": (2, 2, 2, 2, 2, 2),
    "whole": (2, 2, 2, 2, 2, 2),
    "chromatic": (1,) * 12,
    "harmonic_minor": (2, 1, 2, 2, 1, 3, 1),
    "melodic_minor_asc": (2, 1, 2, 2, 2, 2, 1),
    "hungarian_minor": (2, 1, 3, 1, 1, 3, 1),
    "octatonic": (2, 1, 2, 1, 2, 1, 2, 1),
    "messiaen1": (2, 2, 2, 2, 2, 2),
    "messiaen2": (1, 2, 1, 2, 1, 2, 1, 2),
    "messiaen3": (2, 1, 1, 2, 1, 1, 2, 1, 1),
    "messiaen4": (1, 1, 3, 1, 1, 1, 3, 1),
    "messiaen5": (1, 4, 1, 1, 4, 1),
    "messiaen6": (2, 2, 1, 1, 2, 2, 1, 1),
    "messiaen7": (1, 1, 1, 2, 1, 1, 1, 1, 2, 1),
    "super_locrian": (1, 2, 1, 2, 2, 2, 2),
    "hirajoshi": (2, 1, 4, 1, 4),
    "kumoi": (2, 1, 4, 2, 3),
    "neapolitan_major": (1, 2, 2, 2, 2, 2, 1),
    "bartok": (2, 2, 1, 2, 1, 2, 2),
    "bhairav": (1, 3, 1, 2, 1, 3, 1),
    "locrian_major": (2, 2, 1, 1, 2, 2, 2),
    "ahirbhairav": (1, 3, 1, 2, 2, 1, 2),
    "enigmatic": (1, 3, 2, 2, 2, 1, 1),
    "neapolitan_minor": (1, 2, 2, 2, 1, 3, 1),
    "pelog": (1, 2, 4, 1, 4),
    "augmented2": (1, 3, 1, 3, 1, 3),
    "scriabin": (1, 3, 3, 2, 3),
    "harmonic_major": (2, 2, 1, 2, 1, 3, 1),
    "melodic_minor_desc": (2, 1, 2, 2, 1, 2, 2),
    "romanian_minor": (2, 1, 3, 1, 2, 1, 2),
    "hindu": (2, 2, 1, 2, 1, 2, 2),
    "iwato": (1, 4, 1, 4, 2),
    "melodic_minor": (2, 1, 2, 2, 2, 2, 1),
    "diminished2": (2, 1, 2, 1, 2, 1, 2, 1),
    "marva": (1, 3, 2, 1, 2, 2, 1),
    "melodic_major": (2, 2, 1, 2, 1, 2, 2),
    "indian": (4, 1, 2, 3, 2),
    "spanish": (1, 3, 1, 2, 1, 2, 2),
    "prometheus": (2, 2, 2, 5, 1),
    "diminished": (1, 2, 1, 2, 1, 2, 1, 2),
    "todi": (1, 2, 3, 1, 1, 3, 1),
    "leading_whole": (2, 2, 2, 2, 2, 1, 1),
    "augmented": (3, 1, 3, 1, 3, 1),
    "purvi": (1, 3, 2, 1, 1, 3, 1),
    "chinese": (4, 2, 1, 4, 1),
    "lydian_minor": (2, 2, 2, 1, 1, 2, 2),
    "blues_major": (2, 1, 1, 3, 2, 3),
    "blues_minor": (3, 2, 1, 1, 3, 2),
    # Basic makams
    "cargah": (*_CARGAH_B, *_CARGAH_D),
    "buselik": (*_BUSELIK_B, *_KURDI_D),
    "buselik_2": (*_BUSELIK_B, *_HICAZ_D),
    "kurdi": (*_KURDI_D, *_BUSELIK_B),
    "rast": (*_RAST_B, *_RAST_D),
    "acemli_rast": (*_RAST_B, *_BUSELIK_D),
    "ussak": (*_USSAK_D, *_BUSELIK_B),
    "bayati": (*_USSAK_D, *_BUSELIK_B),
    "bayati_2": (*_USSAK_D, *_BUSELIK_B, *_KURDI_D),
    "isfahan": (*_USSAK_D, *_BUSELIK_B),
    "isfahan_2": (*_USSAK_D, *_BUSELIK_B, *_KURDI_D),
    "hicaz_humayun": (*_HICAZ_D, *_BUSELIK_B),
    "hicaz_humayun_2": (*_HICAZ_D, *_BUSELIK_B, *_KURDI_D),
    "hicaz": (*_HICAZ_D, *_RAST_B),
    "hicaz_2": (*_HICAZ_D, *_RAST_B, *_BUSELIK_D),
    "uzzal": (*_HICAZ_B, *_USSAK_D),
    "uzzal_2": (*_HICAZ_B, *_USSAK_D, *_BUSELIK_B),
    "zirguleli_hicaz": (*_HICAZ_B, *_HICAZ_D),
    "zirguleli_hicaz_2": (*_HICAZ_B, *_HICAZ_D, *_BUSELIK_B),
    "huseyni": (*_HUSEYNI_B, *_USSAK_D),
    "huseyni_2": (*_HUSEYNI_B, *_USSAK_D, *_BUSELIK_B),
    "muhayyer": (*_HUSEYNI_B, *_USSAK_D),
    "gulizar": (*_HUSEYNI_B, *_USSAK_D),
    "neva": (*_USSAK_D, *_RAST_B),
    "neva_2": (*_USSAK_D, *_RAST_B, *_BUSELIK_D),
    "tahir": (*_USSAK_D, *_RAST_B),
    "tahir_2": (*_USSAK_D, *_RAST_B, *_BUSELIK_D),
    "karcigar": (*_USSAK_D, *_HICAZ_B),
    "suznak": (*_RAST_B, *_HICAZ_D),
    "suznak_2": (*_RAST_B, *_HICAZ_D, *_BUSELIK_B),
    # Sedd makams
    "mahur": (*_CARGAH_B, *_CARGAH_D),
    "acem_asiran": (*_CARGAH_B, *_CARGAH_D),
    "nihavend": (*_BUSELIK_B, *_KURDI_D),
    "nihavend_2": (*_BUSELIK_B, *_HICAZ_D),
    "sultani_yegah": (*_BUSELIK_B, *_KURDI_D),
    "sultani_yegah_2": (*_BUSELIK_B, *_HICAZ_D),
    "kurdili_hicazkar": (*_KURDI_D, *_BUSELIK_B),
    "kurdili_hicazkar_2": (*_KURDI_D, *_HICAZ_D, *_BUSELIK_B),
    "kurdili_hicazkar_3": (*_KURDI_D, *_HICAZ_D, *_HICAZ_B),
    "kurdili_hicazkar_4": (*_KURDI_D, *_USSAK_D, *_BUSELIK_B),
    "kurdili_hicazkar_5": (*_KURDI_D, *_USSAK_D, *_USSAK_D),
    "zirguleli_suznak": (*_HICAZ_B, *_HICAZ_D),
    "zirguleli_suznak_2": (*_HICAZ_B, *_HICAZ_D, *_BUSELIK_B),
    "zirguleli_suznak_3": (*_HICAZ_B, *_HICAZ_D, *_HICAZ_B),
    "hicazkar": (*_HICAZ_B, *_HICAZ_D),
    "hicazkar_2": (*_HICAZ_B, *_HICAZ_D, *_BUSELIK_B),
    "evcara": (*_HICAZ_B, *_HICAZ_D),
    "evcara_2": (*_HICAZ_B, *_HICAZ_D, *_MUSTEAR_D),
    "evcara_3": (*_HICAZ_B, *_HICAZ_D, *_EKSIK_FERAHNAK_B),
    "evcara_4": (*_HICAZ_B, *_HICAZ_D, *_EKSIK_SEGAH_B),
    "suzidil": (*_HICAZ_B, *_HICAZ_D),
    "suzidil_2": (*_HICAZ_B, *_HICAZ_D, *_HICAZ_B, *_KURDI_D),
    "sedaraban": (*_HICAZ_B, *_HICAZ_D),
    "sedaraban_2": (*_HICAZ_B, *_HICAZ_D, *_HICAZ_D, *_BUSELIK_B),
    "segah": (*_TAM_SEGAH_B, *_HICAZ_D),
    "segah_2": (_KUC, _TAN, *_USSAK_D, *_BUSELIK_B),
    "huzzam": (*_HUZZAM_B, *_HICAZ_D),
    "huzzam_2": (_KUC, _TAN, *_HICAZ_D, *_BUSELIK_B),
    "bayati_araban": (*_USSAK_D, *_HICAZ_B, *_KURDI_D),
    "acem_kurdi": (*_KURDI_D, *_CARGAH_B),
    "sehnaz": (*_HICAZ_D, *_BUSELIK_B),
    "sehnaz_2": (*_HICAZ_D, *_RAST_B),
    "sehnaz_3": (*_HICAZ_B, *_USSAK_D),
    "sehnaz_4": (*_HICAZ_B, *_HICAZ_D),
    "saba": (_BUY, _KUC, *_HICAZ_B, *_HICAZ_D),
    "dugah": (_BUY, _KUC, *_HICAZ_B, *_HICAZ_D),
    "dugah_2": (*_HICAZ_B, *_HICAZ_D),
    "evic": _SEGAH_D,
    "evic_2": _EKSIK_SEGAH_B,
    "bestenigar": (*_SEGAH_D, _KUC, *_HICAZ_B, *_HICAZ_D),
    "ferahnak": (*_TAM_FERAHNAK_B, *_HICAZ_D),
    "sevkefza": (*_CARGAH_B, *_CARGAH_D),
    "sevkefza_2": (*_CARGAH_B, *_HICAZ_B, *_HICAZ_D),
    "sevkefza_3": (*_NIKRIZ_B, *_HICAZ_B, *_HICAZ_D),
    "ferahfeza": (*_BUSELIK_B, *_HICAZ_D),
    "ferahfeza_2": (*_BUSELIK_B, *_USSAK_D),
    "yegah": (*_RAST_B, *_BUSELIK_D),
    "yegah_2": (*_RAST_B, *_USSAK_D, *_RAST_B),
}
"""Sonic Pi's scale table: name → successive intervals in semitones (one octave)."""
