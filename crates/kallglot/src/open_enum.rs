//! A macro for *open* string enums: value sets the API may extend at any
//! time, such as statuses, modes and speakers.
//!
//! Kallglot adds values without a version bump and still emits legacy
//! spellings from older deployments, so decoding such a value must never
//! fail. Each generated enum has one variant per documented value plus an
//! `Unknown(String)` variant that keeps anything else verbatim, and legacy
//! spellings can be folded into the variant of the current value so callers
//! match one name per situation.
//!
//! [`crate::error_code::ErrorCode`] is the same pattern written out by hand;
//! this macro exists so that the many small enums of the models do not each
//! repeat a hundred lines of boilerplate.
//!
//! ```text
//! open_enum! {
//!     /// Where an analysis is in its lifecycle.
//!     pub enum AnalysisStatus {
//!         /// Still running.
//!         Processing = "processing",
//!         /// Finished successfully (legacy spelling: `complete`).
//!         Completed = "completed" | "complete",
//!     }
//! }
//! ```
//!
//! The first string of a variant is its canonical wire value, used by
//! `as_str`, `Display` and `Serialize`; the strings after `|` are aliases
//! that are only recognised when parsing.
//!
//! An enum whose values the spec documents names the spec's list after a
//! colon (`pub enum SessionStatus: values::SESSION_STATUS { … }`, with the
//! lists of `kallglot_api::catalogue`). The build then fails unless the
//! variants' wire values are exactly the list's `x-known-values` and the
//! aliases exactly its `x-aliases`: the spec stays the one place where a
//! value is added, and the enum cannot silently lag behind it.

/// Defines a public open enum; see the [module documentation](self).
///
/// Generated items: the enum (deriving `Debug, Clone, PartialEq, Eq, Hash`,
/// marked `#[non_exhaustive]`), `parse`, `as_str`, `is_unknown`, `Display`,
/// `From<&str>`, `From<String>`, `Serialize` and `Deserialize`, plus, under
/// `cfg(test)`, a `WIRE_VALUES` list of the canonical strings.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident $(: $($list:path),+)? {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $wire:literal $(| $alias:literal)*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        ///
        /// This enum is *open*: a value this SDK version does not know is kept
        /// verbatim in `Unknown` instead of failing to decode. Build values
        /// with `parse` or `From<&str>`, which map legacy spellings to their
        /// current variant; writing `Unknown` by hand with a known value would
        /// make it compare unequal to the proper variant.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                $variant,
            )+
            /// A value this SDK version does not know, kept exactly as
            /// received (or as given, when sent in a request).
            Unknown(::std::string::String),
        }

        impl $name {
            /// The canonical wire value of every known variant, in
            /// declaration order.
            #[allow(dead_code, reason = "read by the spec check and by tests")]
            pub(crate) const WIRE_VALUES: &'static [&'static str] = &[$($wire),+];

            /// Every legacy spelling with the canonical value it folds into.
            #[allow(dead_code, reason = "read by the spec check and by tests")]
            pub(crate) const ALIASES: &'static [(&'static str, &'static str)] =
                &[$($(($alias, $wire),)*)+];

            /// Parses a wire value. Never fails: a value this SDK version
            /// does not know becomes `Unknown`, and legacy spellings map to
            /// the variant of the current value. Matching is exact and
            /// case-sensitive, because the values are identifiers.
            pub fn parse(value: &str) -> Self {
                Self::known(value).unwrap_or_else(|| Self::Unknown(value.to_owned()))
            }

            /// The known variant for `value`, if any.
            fn known(value: &str) -> ::std::option::Option<Self> {
                match value {
                    $( $wire $(| $alias)* => ::std::option::Option::Some(Self::$variant), )+
                    _ => ::std::option::Option::None,
                }
            }

            /// The wire value: the current spelling for a known variant
            /// (even if a legacy alias was parsed), or the string as received
            /// for `Unknown`.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(value) => value,
                }
            }

            /// Whether this is a value the SDK version does not know.
            pub fn is_unknown(&self) -> bool {
                ::std::matches!(self, Self::Unknown(_))
            }
        }

        $($(
            const _: () = ::std::assert!(
                $crate::open_enum::matches_spec($name::WIRE_VALUES, $name::ALIASES, &$list),
                ::std::concat!(
                    "the variants of `", ::std::stringify!($name), "` differ from `",
                    ::std::stringify!($list), "` (x-known-values / x-aliases) in the spec"
                )
            );
        )+)?

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::parse(value)
            }
        }

        impl ::std::convert::From<::std::string::String> for $name {
            /// Like `parse`, but reuses the allocation for unknown values.
            fn from(value: ::std::string::String) -> Self {
                Self::known(&value).unwrap_or(Self::Unknown(value))
            }
        }

        impl ::serde::Serialize for $name {
            /// Serializes as the wire string, so a legacy alias is written
            /// back in its current spelling.
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            /// Accepts any string; unknown values become `Unknown`.
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)
                    .map(Self::from)
            }
        }
    };
}

pub(crate) use open_enum;

use kallglot_api::catalogue::ValueList;

/// Whether an enum's wire values and aliases are exactly a spec list's, in any order.
/// `const` so that the check runs when the crate is built.
pub(crate) const fn matches_spec(
    values: &[&str],
    aliases: &[(&str, &str)],
    list: &ValueList,
) -> bool {
    values.len() == list.values.len()
        && aliases.len() == list.aliases.len()
        && every_value_in(values, list.values)
        && every_value_in(list.values, values)
        && every_pair_in(aliases, list.aliases)
        && every_pair_in(list.aliases, aliases)
}

const fn every_value_in(needles: &[&str], haystack: &[&str]) -> bool {
    let mut i = 0;
    while i < needles.len() {
        let mut found = false;
        let mut j = 0;
        while j < haystack.len() {
            found = found || same(needles[i], haystack[j]);
            j += 1;
        }
        if !found {
            return false;
        }
        i += 1;
    }
    true
}

const fn every_pair_in(needles: &[(&str, &str)], haystack: &[(&str, &str)]) -> bool {
    let mut i = 0;
    while i < needles.len() {
        let mut found = false;
        let mut j = 0;
        while j < haystack.len() {
            found =
                found || (same(needles[i].0, haystack[j].0) && same(needles[i].1, haystack[j].1));
            j += 1;
        }
        if !found {
            return false;
        }
        i += 1;
    }
    true
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::ValueList;

    open_enum! {
        /// A test enum.
        pub enum Fruit {
            /// An apple.
            Apple = "apple",
            /// A pear, once spelled `poire` and `peer`.
            Pear = "pear" | "poire" | "peer",
            /// Trailing comma accepted.
            Plum = "plum",
        }
    }

    #[test]
    fn known_values_round_trip() {
        let variants = [Fruit::Apple, Fruit::Pear, Fruit::Plum];
        assert_eq!(Fruit::WIRE_VALUES, ["apple", "pear", "plum"]);
        for (wire, variant) in Fruit::WIRE_VALUES.iter().zip(variants) {
            let parsed = Fruit::parse(wire);
            assert_eq!(parsed, variant);
            assert!(!parsed.is_unknown());
            assert_eq!(parsed.as_str(), *wire);
            assert_eq!(parsed.to_string(), *wire);
            assert_eq!(Fruit::from(*wire), parsed);
            assert_eq!(Fruit::from(wire.to_string()), parsed);
        }
    }

    #[test]
    fn aliases_map_to_canonical_variant() {
        for alias in ["poire", "peer"] {
            let parsed = Fruit::parse(alias);
            assert_eq!(parsed, Fruit::Pear);
            assert_eq!(parsed.as_str(), "pear");
            assert_eq!(Fruit::from(alias.to_owned()), Fruit::Pear);
        }
    }

    #[test]
    fn unknown_values_are_preserved_verbatim() {
        for raw in ["banana", "", "Apple", " apple", "apple "] {
            let parsed = Fruit::parse(raw);
            assert_eq!(parsed, Fruit::Unknown(raw.to_owned()));
            assert!(parsed.is_unknown());
            assert_eq!(parsed.as_str(), raw);
            assert_eq!(parsed.to_string(), raw);
            assert_eq!(Fruit::from(raw.to_owned()), parsed);
        }
    }

    #[test]
    fn serde_as_plain_string() {
        let fruit: Fruit = serde_json::from_str("\"plum\"").unwrap();
        assert_eq!(fruit, Fruit::Plum);
        assert_eq!(serde_json::to_string(&fruit).unwrap(), "\"plum\"");

        // Aliases are written back canonically.
        let fruit: Fruit = serde_json::from_str("\"poire\"").unwrap();
        assert_eq!(fruit, Fruit::Pear);
        assert_eq!(serde_json::to_string(&fruit).unwrap(), "\"pear\"");

        // Unknown values never fail and are written back unchanged.
        let fruit: Fruit = serde_json::from_str("\"durian\"").unwrap();
        assert_eq!(fruit, Fruit::Unknown("durian".into()));
        assert_eq!(serde_json::to_string(&fruit).unwrap(), "\"durian\"");

        // A non-string is still a genuine type error.
        assert!(serde_json::from_str::<Fruit>("1").is_err());
        assert!(serde_json::from_str::<Fruit>("null").is_err());
    }

    #[test]
    fn usable_as_hash_key() {
        let set: HashSet<Fruit> = ["apple", "poire", "pear", "kiwi"]
            .into_iter()
            .map(Fruit::from)
            .collect();
        assert_eq!(set.len(), 3);
        assert!(set.contains(&Fruit::Pear));
        assert!(set.contains(&Fruit::Unknown("kiwi".into())));
    }

    /// Every value list of the spec is either an open enum's (checked value by value when
    /// the crate builds) or listed here with the reason it stays a string. A list added to
    /// the spec fails this test until it is given a home.
    #[test]
    fn every_spec_value_list_has_a_home() {
        use crate::error_code::{ErrorCode, ErrorType};
        use crate::model::*;
        use kallglot_api::catalogue::{self as c, VALUE_LISTS};
        let enums: &[(&ValueList, &[&str])] = &[
            (&c::ANALYSIS_STATUS, AnalysisStatus::WIRE_VALUES),
            (
                &c::CREATE_ANALYSIS_REQUEST_INCLUDE,
                AnalysisPart::WIRE_VALUES,
            ),
            (&c::CREATE_SESSION_REQUEST_MODE, Mode::WIRE_VALUES),
            (&c::ERROR_DETAIL_CODE, ErrorCode::WIRE_VALUES),
            (&c::ERROR_DETAIL_TYPE, ErrorType::WIRE_VALUES),
            (&c::RECORDING_CHANNEL, Channel::WIRE_VALUES),
            (&c::RECORDING_STATUS, RecordingStatus::WIRE_VALUES),
            (&c::SESSION_MODE, Mode::WIRE_VALUES),
            (&c::SESSION_PROVIDER, ProviderName::WIRE_VALUES),
            (&c::SESSION_ROUTING_DIRECTION, Direction::WIRE_VALUES),
            (&c::SESSION_STATUS, SessionStatus::WIRE_VALUES),
            (&c::TRANSCRIPT_STATUS, TranscriptStatus::WIRE_VALUES),
            (&c::TRANSCRIPT_TURN_SPEAKER, Speaker::WIRE_VALUES),
            // `EndedSession.status` decodes as a `SessionStatus`, a superset.
            (&c::SESSION_ENDED_STATUS, SessionStatus::WIRE_VALUES),
        ];
        let strings = [
            // The legacy provider object's call state is passed through as a string.
            c::LEGACY_PROVIDER_STATUS.location,
            // `routing.type` is written by `Routing::sip()`, never chosen by callers.
            c::SESSION_ROUTING_TYPE.location,
        ];
        for (list, values) in enums {
            for value in list.values {
                assert!(values.contains(value), "{}: {value}", list.location);
            }
        }
        let mut homed: Vec<&str> = enums.iter().map(|(list, _)| list.location).collect();
        homed.extend(strings);
        homed.sort_unstable();
        let mut all: Vec<&str> = VALUE_LISTS.iter().map(|list| list.location).collect();
        all.sort_unstable();
        assert_eq!(homed, all);
        assert!(c::SESSION_ROUTING_TYPE.values.contains(&"sip"));
    }

    #[test]
    fn the_spec_check_sees_every_difference() {
        let list = ValueList {
            location: "Test.status",
            values: &["apple", "pear", "plum"],
            aliases: &[("poire", "pear"), ("peer", "pear")],
        };
        assert!(super::matches_spec(
            Fruit::WIRE_VALUES,
            Fruit::ALIASES,
            &list
        ));
        let fewer = ValueList {
            values: &["apple", "pear"],
            ..list
        };
        let other = ValueList {
            values: &["apple", "pear", "plums"],
            ..list
        };
        let no_alias = ValueList {
            aliases: &[("poire", "pear")],
            ..list
        };
        let wrong_target = ValueList {
            aliases: &[("poire", "pear"), ("peer", "plum")],
            ..list
        };
        for bad in [fewer, other, no_alias, wrong_target] {
            assert!(
                !super::matches_spec(Fruit::WIRE_VALUES, Fruit::ALIASES, &bad),
                "{bad:?}"
            );
        }
    }
}
