//! Reading a client's JSON strictly: an object where a struct is expected (serde's derive would
//! also take an array and fill the fields in order), and every error as the path of the field and
//! a sentence, never the parser's wording.
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_json::Value;

use crate::error::FieldError;

/// Parses `bytes` as JSON into `T`; the error names the field (`body` for the whole document).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| FieldError::new("body", "is not valid JSON"))?;
    from_value("", value)
}

/// Reads `value` into `T`; field paths in errors start with `prefix` (empty for a whole body).
pub fn from_value<T: DeserializeOwned>(prefix: &str, value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(Strict(value)).map_err(|e| {
        let path = e.path().to_string();
        let mut field = match (prefix, path.as_str()) {
            ("", ".") => String::new(),
            (p, ".") => p.to_string(),
            ("", path) => path.to_string(),
            (p, path) => format!("{p}.{path}"),
        };
        let (named, message) = sentence(&e.into_inner().to_string());
        // A missing field's path is its parent's; an unknown one's already ends with it.
        if let Some(named) = named.filter(|n| field.rsplit('.').next() != Some(n.as_str())) {
            field = if field.is_empty() { named } else { format!("{field}.{named}") };
        }
        FieldError::new(if field.is_empty() { "body".to_string() } else { field }, message)
    })
}

/// serde's message → (a field it names itself, e.g. a missing one; a sentence for people).
fn sentence(message: &str) -> (Option<String>, String) {
    let quoted = |s: &str| s.split('`').nth(1).map(str::to_string);
    if let Some(rest) = message.strip_prefix("missing field ") {
        return (quoted(rest), "is required".into());
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return (quoted(rest), "is not a field of this request".into());
    }
    if message.starts_with("duplicate field ") {
        return (quoted(message), "is given twice".into());
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let allowed: Vec<&str> = rest
            .split_once("expected ")
            .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        return (None, format!("must be one of: {}", allowed.join(", ")));
    }
    if (message.starts_with("invalid type: ")
        || message.starts_with("invalid value: ")
        || message.starts_with("invalid length "))
        && let Some((_, expected)) = message.rsplit_once(", expected ")
    {
        return (None, format!("must be {}", plain_expected(expected)));
    }
    // A custom check's own sentence (e.g. a time zone), without position details.
    let message = message.split(" at line ").next().unwrap_or(message);
    (None, message.to_string())
}

/// serde's name of what it expected, in words for people.
fn plain_expected(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".into(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "an array".into(),
        "a map" => "an object".into(),
        e if e.starts_with("struct ") => "an object".into(),
        e if e.starts_with("enum ") => "one of the documented values".into(),
        e => e.to_string(),
    }
}

/// A `serde_json::Value` that deserializes a struct from an object only, all the way down.
struct Strict(Value);

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("number"),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

impl<'de> Deserializer<'de> for Strict {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => {
                let len = items.len();
                let mut seq = Seq(items.into_iter());
                let out = visitor.visit_seq(&mut seq)?;
                if seq.0.len() > 0 {
                    return Err(de::Error::invalid_length(len, &"fewer elements"));
                }
                Ok(out)
            }
            Value::Object(fields) => visitor.visit_map(Map { iter: fields.into_iter(), value: None }),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Strict(other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            object @ Value::Object(_) => Strict(object).deserialize_any(visitor),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        whole(self.0).deserialize_any(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        whole(self.0).deserialize_any(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        whole(self.0).deserialize_any(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        whole(self.0).deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i128 u8 u16 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// JSON Schema counts `3.0` as the integer 3 (clients and generators send it so); any other
/// fraction stays a number and is refused where an integer is expected.
fn whole(v: Value) -> Value {
    match v.as_f64() {
        Some(f) if v.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
            #[allow(clippy::cast_possible_truncation)]
            let n = f as i64;
            Value::from(n)
        }
        _ => v,
    }
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Seq {
    type Error = serde_json::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, Self::Error> {
        self.0.next().map(|v| seed.deserialize(Strict(v))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map {
    iter: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for Map {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            None => Ok(None),
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Strict(Value::String(key))).map(Some)
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Self::Error> {
        seed.deserialize(Strict(self.value.take().unwrap_or(Value::Null)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        count: u32,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        version: i64,
        #[serde(default)]
        flag: bool,
        inner: Option<Inner>,
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Image,
        Video,
    }

    fn err(json: &str) -> (String, String) {
        let e = from_slice::<Outer>(json.as_bytes()).expect_err(json);
        (e.field, e.message)
    }

    #[test]
    fn errors_name_the_field_in_words() {
        assert_eq!(err(r#"{"version":1.5}"#), ("version".into(), "must be an integer".into()));
        assert_eq!(err("[1, true]"), ("body".into(), "must be an object".into()));
        assert_eq!(err("{}"), ("version".into(), "is required".into()));
        assert_eq!(err(r#"{"version":1,"inner":[3]}"#), ("inner".into(), "must be an object".into()));
        assert_eq!(
            err(r#"{"version":1,"inner":{"count":-1}}"#),
            ("inner.count".into(), "must be a whole number (0 or more)".into())
        );
        assert_eq!(
            err(r#"{"version":1,"inner":{"count":1,"x":2}}"#),
            ("inner.x".into(), "is not a field of this request".into())
        );
        assert_eq!(err(r#"{"version":1,"kind":"gif"}"#), ("kind".into(), "must be one of: image, video".into()));
        assert_eq!(err(r#"{"version":1,"flag":"yes"}"#), ("flag".into(), "must be a boolean".into()));
        assert_eq!(err("{not json"), ("body".into(), "is not valid JSON".into()));
        let ok: Outer = from_slice(br#"{"version":3.0,"inner":{"count":2},"kind":"video","extra":1}"#).expect("valid");
        assert_eq!((ok.version, ok.inner.map(|i| i.count)), (3, Some(2)));
        let prefixed = from_value::<Inner>("alert_thresholds", serde_json::json!([])).expect_err("array");
        assert_eq!(prefixed.field, "alert_thresholds");
    }
}
