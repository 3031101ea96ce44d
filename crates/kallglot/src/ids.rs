//! Typed identifiers for the API's objects.
//!
//! Each kind of object has its own id type so that, say, a recording id
//! cannot be passed where a session id is expected. The types are otherwise
//! plain strings: Kallglot documents ids as opaque and has already changed
//! one prefix (analysis ids were `ana_…` and are now `anl_…`), so no prefix
//! or format is checked. Validating here would only turn a future server
//! change into a client-side failure.
//!
//! What *is* checked, when an id is put into a request path, is that it stays one path
//! segment: an empty id, `.`, `..`, or one containing `/`, `\` or a control character is
//! refused with [`ConfigError::InvalidId`] before anything
//! is sent, because a URL parser resolves `sessions/../end` to `/v1/end` and `sessions//end`
//! names no session at all. Every other character is percent-encoded by the client.

use crate::config_error::ConfigError;

/// Checks that `id` can be one path segment of a request; see the [module docs](self).
/// `kind` names the id in the error, such as `session id`.
#[cfg_attr(not(feature = "client"), allow(dead_code))] // the client checks ids it sends
pub(crate) fn check_path_segment(kind: &'static str, id: &str) -> Result<(), ConfigError> {
    // One pass for the common id (printable ASCII, no `/` or `\`, not `.` or `..`): it
    // passes every check below, which then need not run one by one.
    if id.len() > 2
        && id
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'/' && b != b'\\')
    {
        return Ok(());
    }
    let reason = if id.is_empty() {
        "it is empty"
    } else if id == "." || id == ".." {
        "`.` and `..` are path navigation, not ids"
    } else if id.contains('/') {
        "it contains `/`, which would change the route"
    } else if id.contains('\\') {
        // The generated client leaves `\` unencoded, and URL parsers read it as `/` in
        // http(s) URLs: `\..` would become a `..` segment.
        "it contains `\\`, which URL parsers read as `/`"
    } else if id.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidId {
        kind,
        id: id.to_owned(),
        reason,
    })
}

/// Defines one id newtype with its conversions and comparisons.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// Any string is accepted: ids are opaque and never validated. A map keyed by
        /// ids can be queried with a plain `&str`:
        ///
        /// ```
        /// use std::collections::HashMap;
        /// # #[allow(unused_imports)] use kallglot::ids::*;
        /// # #[cfg(feature = "webhooks")] #[allow(unused_imports)] use kallglot::webhooks::*;
        ///
        #[doc = concat!("let mut seen: HashMap<", stringify!($name), ", u32> = HashMap::new();")]
        #[doc = concat!("seen.insert(", stringify!($name), "::from(\"obj_1\"), 1);")]
        /// assert_eq!(seen.get("obj_1"), Some(&1));
        /// ```
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id as given, without checking it.
            ///
            /// ```
            /// # #[allow(unused_imports)] use kallglot::ids::*;
            /// # #[cfg(feature = "webhooks")] #[allow(unused_imports)] use kallglot::webhooks::*;
            #[doc = concat!("let id = ", stringify!($name), "::new(\"obj_1\");")]
            /// assert_eq!(id.to_string(), "obj_1");
            /// ```
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as a string slice.
            ///
            /// ```
            /// # #[allow(unused_imports)] use kallglot::ids::*;
            /// # #[cfg(feature = "webhooks")] #[allow(unused_imports)] use kallglot::webhooks::*;
            #[doc = concat!("let id = ", stringify!($name), "::from(\"obj_1\");")]
            /// assert!(id.as_str().starts_with("obj_"));
            /// ```
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps the id into its string.
            ///
            /// ```
            /// # #[allow(unused_imports)] use kallglot::ids::*;
            /// # #[cfg(feature = "webhooks")] #[allow(unused_imports)] use kallglot::webhooks::*;
            #[doc = concat!("let id = ", stringify!($name), "::new(String::from(\"obj_1\"));")]
            /// let text: String = id.into_string();
            /// assert_eq!(text, "obj_1");
            /// ```
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        /// Clones the id, so that methods taking `impl Into<Id>` also
        /// accept a borrowed id such as `&session.id`.
        impl From<&$name> for $name {
            fn from(id: &$name) -> Self {
                id.clone()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Lets maps and sets keyed by this id be queried with a plain `&str`.
        /// Sound because the derived `Hash`, `Eq` and `Ord` of a one-field
        /// newtype agree with those of the inner string.
        impl ::std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }
    };
}

// Only the webhook events define ids outside this module.
#[cfg(feature = "webhooks")]
pub(crate) use id_type;

id_type! {
    /// The id of a session (`sess_…`), the correlation id shared by the
    /// REST API, the audio stream and webhooks.
    SessionId
}

id_type! {
    /// The id of a recording (`rec_…`).
    RecordingId
}

id_type! {
    /// The id of an analysis (`anl_…`; `ana_…` in legacy responses).
    AnalysisId
}

id_type! {
    /// The id of a transcript (`trn_…` in examples). Legacy transcripts had
    /// no id at all.
    TranscriptId
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    #[test]
    fn any_string_is_accepted() {
        // Current and legacy prefixes, no prefix, odd characters, empty.
        for raw in ["anl_01HDEF", "ana_legacy", "whatever", "ä b/c?", ""] {
            let id = AnalysisId::new(raw);
            assert_eq!(id.as_str(), raw);
            assert_eq!(id.to_string(), raw);
            assert_eq!(id.clone().into_string(), raw);
            assert_eq!(String::from(id.clone()), raw);
            assert_eq!(AnalysisId::from(raw), id);
            assert_eq!(AnalysisId::from(raw.to_owned()), id);
            assert_eq!(AnalysisId::from(&id), id);
        }
    }

    #[test]
    fn ids_that_would_leave_their_path_segment_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "/",
            "../end",
            "sess\n1",
            "sess\u{0}",
            "\u{7f}",
        ] {
            let err = check_path_segment("session id", bad).expect_err(bad);
            let ConfigError::InvalidId { kind, id, .. } = &err else {
                panic!("{err:?}");
            };
            assert_eq!((*kind, id.as_str()), ("session id", bad));
            assert!(err.to_string().starts_with("invalid session id"), "{err}");
        }
        for ok in ["sess_1", "...", ".a", "a.", "ä b?c#d%e", "%2e%2e"] {
            assert_eq!(check_path_segment("session id", ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn compares_with_strings() {
        let id = SessionId::new("sess_1");
        assert_eq!(id, *"sess_1");
        assert_eq!(id, "sess_1");
        assert_eq!(id, "sess_1".to_owned());
        assert_ne!(id, "sess_2");
        assert_eq!(id.as_ref(), "sess_1");
    }

    #[test]
    fn serde_is_transparent() {
        let id: RecordingId = serde_json::from_str("\"rec_01HABC\"").unwrap();
        assert_eq!(id, RecordingId::new("rec_01HABC"));
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"rec_01HABC\"");
        assert!(serde_json::from_str::<RecordingId>("12").is_err());
    }

    #[test]
    fn usable_as_keys_and_queried_by_str() {
        let mut map = HashMap::new();
        map.insert(TranscriptId::new("trn_a"), 1);
        assert_eq!(map.get("trn_a"), Some(&1));
        assert_eq!(map.get("trn_b"), None);

        let set: BTreeSet<SessionId> = ["sess_b", "sess_a", "sess_b"]
            .into_iter()
            .map(SessionId::from)
            .collect();
        let ordered: Vec<&str> = set.iter().map(SessionId::as_str).collect();
        assert_eq!(ordered, ["sess_a", "sess_b"]);
        assert!(set.contains("sess_a"));
    }
}
