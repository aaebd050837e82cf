use super::*;

const GOOD: &str = "sk-0123456789abcdef0123456789abcdef";

#[test]
fn accepts_a_plain_key_without_notes() {
    let parsed = ApiKey::parse(GOOD).unwrap();
    assert_eq!(parsed.key.expose(), GOOD);
    assert!(parsed.notes.is_empty());
}

#[test]
fn trims_paste_debris_and_says_so() {
    let parsed = ApiKey::parse(&format!("  {GOOD}\r\n")).unwrap();
    assert_eq!(parsed.key.expose(), GOOD);
    assert_eq!(parsed.notes, vec![KeyNote::Trimmed]);
}

#[test]
fn a_byte_order_mark_is_called_by_its_name() {
    let parsed = ApiKey::parse(&format!("\u{feff}{GOOD}")).unwrap();
    assert_eq!(parsed.notes, vec![KeyNote::ByteOrderMark]);
    let parsed = ApiKey::parse(&format!("\u{feff}{GOOD}\n")).unwrap();
    assert_eq!(parsed.notes, vec![KeyNote::ByteOrderMark, KeyNote::Trimmed]);
}

#[test]
fn strips_one_pair_of_matching_quotes() {
    for quoted in [format!("'{GOOD}'"), format!("\"{GOOD}\""), format!("“{GOOD}”")] {
        let parsed = ApiKey::parse(&quoted).unwrap();
        assert_eq!(parsed.key.expose(), GOOD);
        assert_eq!(parsed.notes, vec![KeyNote::QuotesRemoved]);
    }
}

#[test]
fn refuses_mismatched_or_double_quotes() {
    assert!(ApiKey::parse(&format!("'{GOOD}\"")).is_err());
    assert!(ApiKey::parse(&format!("''{GOOD}''")).is_err());
}

#[test]
fn refuses_each_malformed_form_with_its_reason() {
    let cases: [(&str, KeyError); 8] = [
        ("", KeyError::Empty),
        (" \r\n", KeyError::Empty),
        ("''", KeyError::Empty),
        ("sk-abc def0123456789", KeyError::InnerWhitespace { position: 7 }),
        ("sk-abc\u{7}def0123456789", KeyError::ControlCharacter { position: 7 }),
        ("sk-abcé0123456789", KeyError::NonAscii { position: 7 }),
        ("sk-abc#0123456789", KeyError::ForbiddenCharacter { position: 7, character: '#' }),
        ("$DASHSCOPE_API_KEY", KeyError::UnexpandedVariable),
    ];
    for (input, expected) in cases {
        assert_eq!(ApiKey::parse(input).unwrap_err(), expected, "input {input:?}");
    }
    let long = "a".repeat(MAX_KEY_LEN + 1);
    assert_eq!(ApiKey::parse(&long).unwrap_err(), KeyError::TooLong { len: 4097 });
}

#[test]
fn recognises_placeholders_and_their_cousins() {
    for placeholder in [
        "YOUR_DASHSCOPE_API_KEY",
        "YOUR-DASHSCOPE-API-KEY",
        "your_api_key",
        "your-api-key-here",
        "<your key>",
        "<YOUR_API_KEY>",
        "{api_key}",
        "sk-xxx",
        "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
        "sk-********",
        "sk-...",
        "sk-…",
        "api_key",
        "DASHSCOPE_API_KEY",
        "sk-your-key",
        "st-xxxx",
    ] {
        assert_eq!(ApiKey::parse(placeholder).unwrap_err(), KeyError::Placeholder, "{placeholder}");
    }
}

#[test]
fn refuses_a_pasted_line_and_names_it() {
    for (input, line) in [
        (format!("DASHSCOPE_API_KEY={GOOD}"), "DASHSCOPE_API_KEY=…"),
        (format!("export DASHSCOPE_API_KEY={GOOD}"), "export DASHSCOPE_API_KEY=…"),
        (format!("export DASHSCOPE_API_KEY=\"{GOOD}\""), "export DASHSCOPE_API_KEY=…"),
        (format!("set -gx DASHSCOPE_API_KEY {GOOD}"), "set -gx DASHSCOPE_API_KEY …"),
        (format!("setenv DASHSCOPE_API_KEY {GOOD}"), "setenv DASHSCOPE_API_KEY …"),
        (format!("$env:DASHSCOPE_API_KEY = '{GOOD}'"), "$env:DASHSCOPE_API_KEY=…"),
        (format!("DASHSCOPE_API_KEY: {GOOD}"), "DASHSCOPE_API_KEY: …"),
        (format!("api_key={GOOD}"), "api_key=…"),
    ] {
        let error = ApiKey::parse(&input).unwrap_err();
        assert_eq!(error, KeyError::PastedAssignment { line: line.to_string() }, "{input}");
        assert!(!error.to_string().contains(&GOOD[3..]), "{error}");
    }
}

#[test]
fn refuses_what_starts_like_an_option_or_a_fragment() {
    for (input, first) in [("-", '-'), ("=x", '='), ("--x", '-'), (".abc0123456789", '.')] {
        assert_eq!(ApiKey::parse(input).unwrap_err(), KeyError::NotAKey { first }, "{input}");
    }
}

#[test]
fn still_accepts_every_documented_shape() {
    for key in [
        GOOD,
        "sk-sp-0123456789abcdef0123456789abcdef",
        "sk-ws-H.ABCDEFG.HIJK.0123456789abcdef_-ABCDEF",
        "st-0123456789abcdef0123456789abcdef",
        "sk-0123456789abcdef0123456789abcdef==",
    ] {
        assert!(ApiKey::parse(key).is_ok(), "{key}");
    }
}

#[test]
fn warns_on_unknown_prefix_but_accepts() {
    let parsed = ApiKey::parse("ak-0123456789abcdef0123").unwrap();
    assert_eq!(parsed.notes, vec![KeyNote::UnknownPrefix]);
}

#[test]
fn masks_prefix_and_last_four() {
    assert_eq!(ApiKey::verbatim(GOOD).mask(), "sk-…cdef");
    assert_eq!(ApiKey::verbatim("sk-sp-0123456789abcdefA1b2").mask(), "sk-sp-…A1b2");
    assert_eq!(ApiKey::verbatim("sk-abc").mask(), "sk-****");
    assert_eq!(ApiKey::verbatim("").mask(), "****");
    assert_eq!(ApiKey::verbatim("0123456789abcdefgh").mask(), "…efgh");
    assert_eq!(ApiKey::verbatim(format!(" {GOOD}\r\n")).mask(), "␣sk-…cdef␣");
    assert_eq!(ApiKey::verbatim(format!("\"{GOOD}\"")).mask(), "\"sk-…cdef\"");
    assert_eq!(ApiKey::verbatim(format!("“{GOOD}”")).mask(), "“sk-…cdef”");
}

#[test]
fn debug_never_shows_the_key() {
    let key = ApiKey::verbatim(GOOD);
    let shown = format!("{key:?} {:?}", ApiKey::parse(GOOD).unwrap());
    assert!(!shown.contains("0123456789"));
}

#[test]
fn fingerprint_is_short_stable_and_distinguishes() {
    let a = ApiKey::verbatim(GOOD).fingerprint();
    assert_eq!(a.len(), 8);
    assert_eq!(a, ApiKey::verbatim(GOOD).fingerprint());
    assert_ne!(a, ApiKey::verbatim(format!("{GOOD} ")).fingerprint());
}

#[test]
fn problems_of_found_values() {
    let ids = |v: &str| -> Vec<&str> {
        ApiKey::verbatim(v).problems().iter().map(ValueProblem::id).collect()
    };
    assert_eq!(ids(GOOD), Vec::<&str>::new());
    assert_eq!(ids(""), ["empty"]);
    assert_eq!(ids(&format!(" {GOOD}\r")), ["whitespace"]);
    assert_eq!(ids(&format!("\u{feff}{GOOD}")), ["bom"]);
    assert_eq!(ids(&format!("\u{feff}{GOOD} ")), ["whitespace"]);
    assert_eq!(ids(&format!("\"{GOOD}\"")), ["quoted"]);
    assert_eq!(ids("YOUR_DASHSCOPE_API_KEY"), ["placeholder"]);
    assert_eq!(ids("sk-abc def0123456789"), ["malformed"]);
}

proptest::proptest! {
    #[test]
    fn every_accepted_key_uses_only_the_key_charset(input in "\\PC{0,64}") {
        if let Ok(parsed) = ApiKey::parse(&input) {
            let value = parsed.key.expose();
            proptest::prop_assert!(!value.is_empty());
            proptest::prop_assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || EXTRA_KEY_CHARS.contains(&b)));
        }
    }

    #[test]
    fn mask_never_reveals_more_than_four_characters_of_the_body(body in "[A-Za-z0-9]{0,80}") {
        let key = ApiKey::verbatim(format!("sk-{body}"));
        let mask = key.mask();
        let shown: usize = mask.chars().filter(char::is_ascii_alphanumeric).count();
        proptest::prop_assert!(shown <= 2 + 4);
    }
}
