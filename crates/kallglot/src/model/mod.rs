//! The SDK's view of the API's objects: what the server returns and what
//! requests accept.
//!
//! These types are deliberately separate from the generated `kallglot-api`
//! types, for two reasons. First, the generated types mirror the wire, so
//! every value set the API may extend is a bare `String`; here those become
//! open enums with named variants and an `Unknown` fallback. Second, they
//! absorb the differences between current and legacy responses (a provider
//! object instead of a string, a translation string instead of an object,
//! `complete` instead of `completed`…), so callers see one shape.
//!
//! Response models have public fields for direct reading and are
//! `#[non_exhaustive]`, so that fields the API adds later can be added here
//! without breaking callers. Request parameters are built with methods.
//!
//! Decoding is lenient throughout: a response is never rejected because a
//! value is unknown or an optional field is missing, as both happen
//! routinely with this API.
//!
//! Every response model is `Serialize` and `Deserialize`, in the API's own JSON shape
//! (with its `object` field): serializing a [`Session`] gives the JSON the API returned
//! for it, and deserializing goes through the same lenient decoding as a response, so
//! legacy shapes are read too and a round trip gives back an equal value. Serializing a
//! session or [`StreamCredentials`] includes the stream token in clear, since handing it
//! to a browser or worker is what it is for; treat that JSON as a secret. To build models
//! as fixtures in your own tests, see [`crate::testing`].

mod analysis;
mod params;
mod recording;
mod session;
mod transcript;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use analysis::{Analysis, AnalysisStatus, Compliance, Performance, Sentiment};
pub use params::{
    AiAgentConfig, AiAgentTool, AnalysisPart, CreateAnalysisParams, CreateSessionParams, Direction,
    RecordingListParams, Routing,
};
pub use recording::{Channel, Recording, RecordingList, RecordingStatus};
pub use session::{
    EndedSession, Metadata, Mode, Provider, ProviderName, RecordingSettings, Session,
    SessionStatus, StreamCredentials, StreamToken,
};
pub use transcript::{
    Speaker, Transcript, TranscriptMetadata, TranscriptStatus, Translation, Turn,
};

/// Longest language code accepted, in bytes. BCP 47 tags used for spoken
/// languages are far shorter; the cap only rejects obvious garbage.
const MAX_LANGUAGE_LEN: usize = 35;

/// A language code such as `en`, `es`, `pt-BR` or `zh-Hant`.
///
/// Kallglot documents codes by example only (`de`, `en`, `es`, `fr`, "25+
/// languages") and does not publish the full list, so [`Language::new`]
/// checks the *shape* of a BCP 47 tag, not whether Kallglot supports it: an
/// unsupported but well-formed code is left for the server to reject.
///
/// Codes from responses are kept exactly as the server sent them, even if
/// they would not pass [`Language::new`]: a response is never rejected over
/// a language code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language(Cow<'static, str>);

impl Language {
    /// English.
    pub const EN: Self = Self::from_static("en");
    /// Spanish.
    pub const ES: Self = Self::from_static("es");
    /// German.
    pub const DE: Self = Self::from_static("de");
    /// French.
    pub const FR: Self = Self::from_static("fr");
    /// Italian.
    pub const IT: Self = Self::from_static("it");
    /// Portuguese.
    pub const PT: Self = Self::from_static("pt");
    /// Dutch.
    pub const NL: Self = Self::from_static("nl");
    /// Polish.
    pub const PL: Self = Self::from_static("pl");
    /// Turkish.
    pub const TR: Self = Self::from_static("tr");
    /// Russian.
    pub const RU: Self = Self::from_static("ru");
    /// Arabic.
    pub const AR: Self = Self::from_static("ar");
    /// Hindi.
    pub const HI: Self = Self::from_static("hi");
    /// Japanese.
    pub const JA: Self = Self::from_static("ja");
    /// Korean.
    pub const KO: Self = Self::from_static("ko");
    /// Chinese.
    pub const ZH: Self = Self::from_static("zh");

    /// Checks and wraps a language code.
    ///
    /// Accepted: a primary subtag of 2–3 ASCII letters, optionally followed
    /// by `-`-separated subtags of 2–8 ASCII letters or digits, at most 35
    /// characters in all (`en`, `pt-BR`, `zh-Hant`, `es-419`). Rejected:
    /// empty strings, whitespace, underscores (`pt_BR` is a locale, not a
    /// language tag), empty subtags and anything longer.
    ///
    /// Letter case carries no meaning in language tags, so the code is
    /// normalized to the conventional casing (`PT-br` becomes `pt-BR`,
    /// `zh-hant` becomes `zh-Hant`); this makes equal codes compare equal.
    ///
    /// # Errors
    ///
    /// [`InvalidLanguage`], naming the value and the rule it breaks, when
    /// `code` does not have the shape described above.
    pub fn new(code: &str) -> Result<Self, InvalidLanguage> {
        let invalid = |reason| InvalidLanguage {
            value: code.to_owned(),
            reason,
        };
        if code.is_empty() {
            return Err(invalid("it is empty"));
        }
        if code.len() > MAX_LANGUAGE_LEN {
            return Err(invalid("it is longer than 35 characters"));
        }
        let mut normalized = String::with_capacity(code.len());
        for (index, subtag) in code.split('-').enumerate() {
            if index == 0 {
                if !(2..=3).contains(&subtag.len())
                    || !subtag.bytes().all(|b| b.is_ascii_alphabetic())
                {
                    return Err(invalid(
                        "the primary subtag must be 2 or 3 ASCII letters, as in `en` or `pt-BR`",
                    ));
                }
                normalized.push_str(&subtag.to_ascii_lowercase());
                continue;
            }
            if !(2..=8).contains(&subtag.len())
                || !subtag.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(invalid(
                    "each subtag after the first must be 2 to 8 ASCII letters or digits, \
                     separated by `-`",
                ));
            }
            normalized.push('-');
            push_subtag_conventional_case(&mut normalized, subtag);
        }
        Ok(Self(Cow::Owned(normalized)))
    }

    /// Wraps a code known to be valid, for the associated constants.
    const fn from_static(code: &'static str) -> Self {
        Self(Cow::Borrowed(code))
    }

    /// Wraps a code received from the server, unchecked and unchanged.
    ///
    /// Responses are the server's word: a code it sends that `new` would
    /// reject (a new format, a locale like `en_US`) is still information
    /// the caller may want, and failing the whole response over it would be
    /// worse.
    pub(crate) fn from_wire(code: String) -> Self {
        Self(Cow::Owned(code))
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Appends a non-primary subtag in the casing RFC 5646 recommends: regions
/// (2 letters) in upper case, scripts (4 letters) in title case, everything
/// else in lower case. Digits are unaffected.
fn push_subtag_conventional_case(out: &mut String, subtag: &str) {
    let is_alpha = subtag.bytes().all(|b| b.is_ascii_alphabetic());
    match subtag.len() {
        2 if is_alpha => out.push_str(&subtag.to_ascii_uppercase()),
        4 if is_alpha => {
            let (first, rest) = subtag.split_at(1);
            out.push_str(&first.to_ascii_uppercase());
            out.push_str(&rest.to_ascii_lowercase());
        }
        _ => out.push_str(&subtag.to_ascii_lowercase()),
    }
}

/// A string rejected by [`Language::new`].
///
/// The message names the rejected value: language codes are not secrets,
/// and seeing the exact value is what makes a configuration mistake easy to
/// find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid language code {value:?}: {reason}")]
pub struct InvalidLanguage {
    value: String,
    reason: &'static str,
}

impl InvalidLanguage {
    /// The rejected string, exactly as given.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl FromStr for Language {
    type Err = InvalidLanguage;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::new(code)
    }
}

impl TryFrom<&str> for Language {
    type Error = InvalidLanguage;

    fn try_from(code: &str) -> Result<Self, Self::Error> {
        Self::new(code)
    }
}

impl TryFrom<String> for Language {
    type Error = InvalidLanguage;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::new(&code)
    }
}

impl AsRef<str> for Language {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Language {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Language {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for Language {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Language {
    /// Validates like [`Language::new`]. This impl is for the caller's own
    /// data (configuration files, queues); the SDK decodes API responses
    /// leniently through a separate path, so a strange code from the server
    /// never fails a response.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::new(&code).map_err(serde::de::Error::custom)
    }
}

/// Converts an optional wire language code, keeping it unchanged.
fn language_from_wire(code: Option<String>) -> Option<Language> {
    code.map(Language::from_wire)
}

/// The wire form of an optional language code.
fn language_to_wire(language: &Option<Language>) -> Option<String> {
    language.as_ref().map(|l| l.as_str().to_owned())
}

/// `deserialize_with` for an optional language received from the server: kept verbatim
/// like [`language_from_wire`], where `Language`'s own `Deserialize` would validate it.
/// The stream events use it.
#[cfg(feature = "stream")]
pub(crate) fn lenient_language<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Language>, D::Error> {
    Option::<String>::deserialize(deserializer).map(language_from_wire)
}

/// `Serialize` and `Deserialize` for a model through its generated wire type, with the
/// model's `to_api` and `from_api`: the JSON is exactly the API's, and deserializing is
/// the same lenient decoding a response gets.
macro_rules! serde_via_wire {
    ($($model:ty => $wire:ty),+ $(,)?) => {$(
        impl ::serde::Serialize for $model {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                ::serde::Serialize::serialize(&self.to_api(), serializer)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $model {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <$wire as ::serde::Deserialize>::deserialize(deserializer).map(Self::from_api)
            }
        }
    )+};
}
use serde_via_wire;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_codes_are_normalized() {
        let table = [
            ("en", "en"),
            ("es", "es"),
            ("EN", "en"),
            ("fil", "fil"),
            ("pt-BR", "pt-BR"),
            ("pt-br", "pt-BR"),
            ("PT-br", "pt-BR"),
            ("zh-Hant", "zh-Hant"),
            ("zh-hant", "zh-Hant"),
            ("ZH-HANT-tw", "zh-Hant-TW"),
            ("es-419", "es-419"),
            ("sr-Latn-RS", "sr-Latn-RS"),
            ("de-CH-1996", "de-CH-1996"),
            ("sl-rozaj", "sl-rozaj"),
            ("zh-yue", "zh-yue"),
            ("en-abcdefgh", "en-abcdefgh"),
        ];
        for (input, expected) in table {
            let language = Language::new(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(language.as_str(), expected, "{input}");
            assert_eq!(input.parse::<Language>().unwrap(), language);
            assert_eq!(Language::try_from(input).unwrap(), language);
            assert_eq!(Language::try_from(input.to_owned()).unwrap(), language);
        }
    }

    #[test]
    fn rejected_codes() {
        let too_long = format!("en{}", "-abcdefgh".repeat(4)); // 38 characters
        let table = [
            "",
            " ",
            "en ",
            " en",
            "e n",
            "pt_BR",
            "e",
            "engl",
            "english",
            "12",
            "e1",
            "en-",
            "-en",
            "en--US",
            "en-U",
            "en-abcdefghi",
            "en-US!",
            "é",
            "en-ÜS",
            "x-private",
            &too_long,
        ];
        for input in table {
            let error = Language::new(input).expect_err(input);
            assert_eq!(error.value(), input);
            assert!(error.to_string().contains(&format!("{input:?}")), "{error}");
            assert!(input.parse::<Language>().is_err(), "{input:?}");
        }
    }

    #[test]
    fn length_limit_is_35() {
        let at_limit = format!("en{}-abcde", "-abcdefgh".repeat(3)); // 35 characters
        assert_eq!(at_limit.len(), 35);
        assert!(Language::new(&at_limit).is_ok());
        let over = format!("{at_limit}g");
        assert!(Language::new(&over).is_err());
    }

    #[test]
    fn constants_are_valid_codes() {
        let all = [
            Language::EN,
            Language::ES,
            Language::DE,
            Language::FR,
            Language::IT,
            Language::PT,
            Language::NL,
            Language::PL,
            Language::TR,
            Language::RU,
            Language::AR,
            Language::HI,
            Language::JA,
            Language::KO,
            Language::ZH,
        ];
        for language in all {
            assert_eq!(Language::new(language.as_str()).unwrap(), language);
        }
        assert_eq!(Language::new("EN").unwrap(), Language::EN);
        assert_eq!(Language::EN, "en");
    }

    #[test]
    fn wire_codes_are_kept_verbatim() {
        for raw in ["en_US", "", "Klingon", "EN"] {
            assert_eq!(Language::from_wire(raw.to_owned()).as_str(), raw);
        }
    }

    #[test]
    fn serde_as_string() {
        let language = Language::new("pt-BR").unwrap();
        assert_eq!(serde_json::to_string(&language).unwrap(), "\"pt-BR\"");
        assert_eq!(
            serde_json::from_str::<Language>("\"pt-br\"").unwrap(),
            language
        );
        let error = serde_json::from_str::<Language>("\"pt_BR\"").unwrap_err();
        assert!(error.to_string().contains("pt_BR"), "{error}");
    }

    #[test]
    fn display_and_as_ref() {
        let language = Language::new("zh-Hant").unwrap();
        assert_eq!(language.to_string(), "zh-Hant");
        assert_eq!(language.as_ref(), "zh-Hant");
        assert_eq!(format!("{:?}", Language::FR), "Language(\"fr\")");
    }
}
