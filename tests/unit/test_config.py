"""notegen.lsp.config: defaults, validation, bad values reported and replaced."""

from __future__ import annotations

from notegen.lsp.config import Settings, parse_settings


def test_defaults():
    s = Settings()
    assert (s.modelPath, s.temperature, s.topK, s.topP) == (None, 1.0, 0, 0.95)
    assert (s.maxItems, s.phraseLength, s.maxContext, s.inlineSuggestions) == (12, 8, 256, True)
    assert (s.sonicPi.host, s.sonicPi.port) == ("127.0.0.1", None)


def test_good_values_apply_from_either_shape():
    a, warnings = parse_settings({"temperature": 0.7, "topK": 20, "maxItems": 5.0})
    assert (a.temperature, a.topK, a.maxItems, warnings) == (0.7, 20, 5, [])
    b, _ = parse_settings({"notegen": {"phraseLength": 4, "sonicPi": {"port": 4557}}})
    assert b.phraseLength == 4 and b.sonicPi.port == 4557


def test_bad_values_are_reported_and_replaced_by_defaults():
    s, warnings = parse_settings(
        {
            "temperature": "hot",
            "topP": 0,
            "maxContext": -3,
            "inlineSuggestions": "yes",
            "maxItems": 6,
            "sonicPi": {"port": 70000},
            "colour": "blue",
        }
    )
    assert (s.temperature, s.topP, s.maxContext, s.inlineSuggestions) == (1.0, 0.95, 256, True)
    assert s.maxItems == 6  # the good value still applies
    assert s.sonicPi.port is None
    text = "\n".join(warnings)
    for key in ("temperature", "topP", "maxContext", "inlineSuggestions", "sonicPi.port", "colour"):
        assert f"notegen.{key}" in text
    assert "'hot'" in text and "using the default 1.0" in text


def test_updates_keep_earlier_values_and_ignore_client_only_keys():
    first, _ = parse_settings({"maxItems": 3})
    second, warnings = parse_settings({"topK": 5, "server": {"command": ["x"]}}, first)
    assert (second.maxItems, second.topK, warnings) == (3, 5, [])


def test_not_an_object():
    s, warnings = parse_settings(["nope"])
    assert s == Settings() and "must be an object" in warnings[0]


def test_a_sonic_pi_host_with_a_nul_or_spaces_is_refused_with_a_warning() -> None:
    """A NUL in the host reached the socket: the play command raised TypeError."""
    for bad in ("local\x00host", "my host", "", "x" * 300):
        s, warnings = parse_settings({"sonicPi": {"host": bad}})
        assert s.sonicPi.host == "127.0.0.1"
        assert len(warnings) == 1 and "notegen.sonicPi.host" in warnings[0]
    for good in ("localhost", "192.168.1.20", "::1", "[fe80::1%eth0]", "studio-pc.local"):
        s, warnings = parse_settings({"sonicPi": {"host": good}})
        assert s.sonicPi.host == good and not warnings


def test_sonic_pi_token_and_reply_port_out_of_range_are_dropped_with_a_warning() -> None:
    s, warnings = parse_settings({"sonicPi": {"token": 10**30, "replyPort": 70000}})
    assert "token" not in s.sonicPi.extra and "replyPort" not in s.sonicPi.extra
    assert [w.split(" must")[0] for w in warnings] == [
        "notegen.sonicPi.token",
        "notegen.sonicPi.replyPort",
    ]
    s, warnings = parse_settings({"sonicPi": {"token": -5, "replyPort": 4560.0}})
    assert s.sonicPi.extra == {"token": -5, "replyPort": 4560} and not warnings


def test_the_slip_settings_are_named_as_the_editor_names_them() -> None:
    """Warnings name the settings a user writes (``notegen.slips.*``), not a module."""
    _, warnings = parse_settings({"slips": "loud"})
    assert warnings[0].startswith("notegen.slips must be an object")
    _, warnings = parse_settings({"slips": {"volume": 3}})
    assert warnings == ["notegen.slips.volume is not a notegen setting; ignored"]
