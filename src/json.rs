//! JSON carried as text: an action's `data` and a KV key's metadata.
//!
//! The worker never needs to look inside either, only to check that it is
//! JSON, bound its size and depth, and pass it on. Keeping it as text (a
//! serde_json `RawValue`) means a listed page of 1000 actions is parsed
//! once, into strings, rather than into a tree of maps, and that `data` is
//! returned exactly as it was sent: numbers, key order and duplicate keys
//! untouched. Only whitespace between tokens is dropped, by [`Json::compact`],
//! so that it does not count against the metadata cap.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Deepest nesting of arrays and objects accepted in a client's JSON: what
/// serde_json allows when it builds values, so JSON parsers elsewhere (the
/// SPA's, a dashboard's) are never handed more than they expect.
pub const MAX_DEPTH: usize = 128;

/// One JSON value, held as its text. Two are equal when their texts are.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Json(Box<RawValue>);

impl Json {
    /// Checks that `text` is one JSON value and keeps it as it is.
    ///
    /// # Errors
    ///
    /// serde_json's error when it is not.
    pub fn from_text(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(Self)
    }

    /// The JSON of `value`.
    ///
    /// # Errors
    ///
    /// serde_json's error when `value` cannot be serialised.
    pub fn of(value: &impl Serialize) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Self)
    }

    /// The same value without whitespace between tokens, refused when it
    /// nests deeper than [`MAX_DEPTH`].
    ///
    /// # Errors
    ///
    /// [`TooDeep`] past [`MAX_DEPTH`].
    pub fn compact(&self) -> Result<Self, TooDeep> {
        let text = self.get();
        let mut out = String::with_capacity(text.len());
        let (mut depth, mut in_string, mut escaped) = (0_usize, false, false);
        for c in text.chars() {
            if in_string {
                // Inside a string every character is kept; only an
                // unescaped quote ends it.
                in_string = escaped || c != '"';
                escaped = !escaped && c == '\\';
            } else {
                match c {
                    ' ' | '\t' | '\n' | '\r' => continue,
                    '"' => in_string = true,
                    '[' | '{' => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Err(TooDeep);
                        }
                    }
                    ']' | '}' => depth -= 1,
                    _ => {}
                }
            }
            out.push(c);
        }
        // Dropping whitespace between the tokens of valid JSON leaves valid
        // JSON; the check costs one pass over at most a few KB.
        Self::from_text(out).map_err(|_| TooDeep)
    }

    /// The JSON text.
    #[must_use]
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Whether this is the literal `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        self.get() == "null"
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Json {}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

/// Serde helpers that store an optional [`Json`] as a JSON *string* holding
/// its text, for KV metadata. The Workers runtime hands metadata through
/// JavaScript's `JSON.parse`, which would turn `9007199254740993` into
/// `9007199254740992` and `1.50` into `1.5`; a string survives it exactly.
/// The price is that quotes and backslashes in the text are escaped again,
/// and count twice against the metadata cap.
pub mod as_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::Json;

    /// Writes the text as a string, or `null`.
    ///
    /// # Errors
    ///
    /// The serializer's.
    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<T>`
    pub fn serialize<S: Serializer>(value: &Option<Json>, out: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(json) => out.serialize_str(json.get()),
            None => out.serialize_none(),
        }
    }

    /// Reads a string holding JSON text, or `null`.
    ///
    /// # Errors
    ///
    /// When it is neither, or the string is not JSON.
    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Option<Json>, D::Error> {
        let text = Option::<String>::deserialize(input)?;
        text.map(|t| Json::from_text(t).map_err(D::Error::custom)).transpose()
    }
}

/// JSON nested deeper than [`MAX_DEPTH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep;

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JSON nests deeper than {MAX_DEPTH} levels")
    }
}

impl std::error::Error for TooDeep {}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Json {
        Json::from_text(text.to_owned()).expect("valid JSON")
    }

    #[test]
    fn compaction_drops_whitespace_between_tokens_only() {
        let sent = json("{ \"a b\" : [ 1 ,\n\t2.50 , \"x \\\" y\" ] , \"c\":{ } }");
        assert_eq!(sent.compact().expect("shallow").get(), r#"{"a b":[1,2.50,"x \" y"],"c":{}}"#);
    }

    #[test]
    fn compaction_keeps_numbers_key_order_and_duplicates_as_sent() {
        let sent = json(r#"{"z":1e2,"a":-0.0,"z":12345678901234567890123}"#);
        assert_eq!(sent.compact().expect("shallow"), sent);
    }

    #[test]
    fn escaped_backslashes_before_a_quote_end_the_string() {
        let sent = json(r#"["a\\", "b"]"#);
        assert_eq!(sent.compact().expect("shallow").get(), r#"["a\\","b"]"#);
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_depth() {
        let sent = json(&format!("\"{}\"", "[".repeat(MAX_DEPTH * 2)));
        assert_eq!(sent.compact().expect("a string"), sent);
    }

    #[test]
    fn nesting_is_capped() {
        let at_cap = json(&format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH)));
        assert!(at_cap.compact().is_ok());
        let over = json(&format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1)));
        assert_eq!(over.compact(), Err(TooDeep));
    }

    #[test]
    fn as_a_string_the_text_survives_a_javascript_style_round_trip_exactly() {
        #[derive(Serialize, Deserialize)]
        struct Meta {
            #[serde(with = "as_string", default, skip_serializing_if = "Option::is_none")]
            d: Option<Json>,
        }
        let data = json(r#"{"big":12345678901234567890,"f":1.50,"s":"q\"b\\"}"#);
        let stored = serde_json::to_string(&Meta { d: Some(data.clone()) }).expect("serialises");
        // Numbers are inside a string, so a parser that reads them as
        // doubles never sees them.
        let as_js: serde_json::Value = serde_json::from_str(&stored).expect("JSON");
        assert!(as_js["d"].is_string());
        let back: Meta = serde_json::from_str(&as_js.to_string()).expect("reads back");
        assert_eq!(back.d, Some(data));
        assert_eq!(serde_json::to_string(&Meta { d: None }).expect("serialises"), "{}");
        assert!(serde_json::from_str::<Meta>(r#"{"d":"{not json"}"#).is_err());
    }

    #[test]
    fn a_value_is_serialised_verbatim_inside_other_json() {
        #[derive(Serialize)]
        struct Outer {
            data: Json,
        }
        let out = serde_json::to_string(&Outer { data: json(r#"{"b":1,"a":[true,null]}"#) });
        assert_eq!(out.expect("serialises"), r#"{"data":{"b":1,"a":[true,null]}}"#);
    }

    mod properties {
        use proptest::prelude::*;
        use serde_json::Value;

        use super::*;

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                // Quotes, backslashes, brackets, whitespace and non-ASCII
                // inside strings are what a careless compactor breaks.
                "[ \\t\\n\"\\\\{}\\[\\]:,aé😀]{0,12}".prop_map(Value::from),
            ];
            leaf.prop_recursive(6, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                    prop::collection::btree_map("[ \"\\\\a-z]{0,6}", inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            /// Whitespace between tokens is all that compaction removes:
            /// serde_json's pretty form compacts to exactly its compact form.
            #[test]
            fn compaction_of_pretty_json_is_the_compact_json(v in value()) {
                let pretty = Json::from_text(serde_json::to_string_pretty(&v).unwrap()).unwrap();
                let compact = serde_json::to_string(&v).unwrap();
                let compacted = pretty.compact().unwrap();
                prop_assert_eq!(compacted.get(), compact.as_str());
            }

            /// On any text at all, compaction never panics, and succeeds
            /// exactly on JSON that nests no deeper than the cap.
            #[test]
            fn compaction_accepts_only_json(text in "[\\[\\]{}\" :,0-9a-z\\\\]{0,40}") {
                if let Ok(json) = Json::from_text(text) {
                    let compact = json.compact().expect("shallow JSON compacts");
                    let before: Value = serde_json::from_str(json.get()).unwrap();
                    let after: Value = serde_json::from_str(compact.get()).unwrap();
                    prop_assert_eq!(before, after);
                }
            }
        }
    }
}
