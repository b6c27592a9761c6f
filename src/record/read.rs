//! Reading flat CSV rows back into their types. Every field arrives as text; text columns
//! deserialize directly and non-text ones through the [`lenient`] helpers (which also accept
//! numbers and booleans from self-describing formats), so a record flattened into a row reads
//! back as it was written.

use crate::error::{Error, Result};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use std::fmt::Display;
use std::path::Path;

impl de::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Record(msg.to_string())
    }
}

/// Reads every row of the CSV file at `path` (with a header) as a `T`. A row is there when
/// its line is: text after the last line break is the torn tail of a write that a killed
/// process did not finish, and is not read.
pub fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let located = |what: String| Error::Record(format!("{}: {what}", path.display()));
    let mut bytes = std::fs::read(path).map_err(|e| located(e.to_string()))?;
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(whole);
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| located(e.to_string()))?
        .clone();
    reader
        .records()
        .enumerate()
        .map(|(i, record)| {
            let record = record.map_err(|e| located(e.to_string()))?;
            T::deserialize(Row {
                headers: &headers,
                record: &record,
            })
            .map_err(|e| located(format!("row {}: {e}", i + 2)))
        })
        .collect()
}

/// One row: a map from the header's names to the record's fields.
struct Row<'a> {
    headers: &'a csv::StringRecord,
    record: &'a csv::StringRecord,
}

impl<'de> de::Deserializer<'de> for Row<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_map(Fields {
            pairs: self.headers.iter().zip(self.record.iter()),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Fields<'a, I> {
    pairs: I,
    value: Option<&'a str>,
}

impl<'de, 'a, I: Iterator<Item = (&'a str, &'a str)>> de::MapAccess<'de> for Fields<'a, I> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.pairs.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(Text(self.value.take().unwrap_or("")))
    }
}

/// One field's text.
struct Text<'a>(&'a str);

impl<'de> de::Deserializer<'de> for Text<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.0.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

/// `deserialize_with` helpers for non-text columns: each accepts the value as text (a CSV
/// field, also through a flattened record) or as itself (JSON); empty text is `None`.
pub mod lenient {
    use serde::Deserializer;
    use serde::de::{self, Visitor};
    use std::fmt;
    use std::marker::PhantomData;

    /// A value parsed from text or taken as a number or boolean.
    trait Parse: Sized + std::str::FromStr {
        const WHAT: &'static str;
        fn from_f64(v: f64) -> Option<Self>;
        fn from_u64(v: u64) -> Option<Self>;
        fn from_i64(v: i64) -> Option<Self>;
        fn from_bool(_: bool) -> Option<Self> {
            None
        }
    }

    impl Parse for f64 {
        const WHAT: &'static str = "a number";
        fn from_f64(v: f64) -> Option<Self> {
            Some(v)
        }
        fn from_u64(v: u64) -> Option<Self> {
            Some(v as f64)
        }
        fn from_i64(v: i64) -> Option<Self> {
            Some(v as f64)
        }
    }

    impl Parse for u64 {
        const WHAT: &'static str = "a whole number";
        fn from_f64(_: f64) -> Option<Self> {
            None
        }
        fn from_u64(v: u64) -> Option<Self> {
            Some(v)
        }
        fn from_i64(v: i64) -> Option<Self> {
            u64::try_from(v).ok()
        }
    }

    impl Parse for bool {
        const WHAT: &'static str = "true or false";
        fn from_f64(_: f64) -> Option<Self> {
            None
        }
        fn from_u64(_: u64) -> Option<Self> {
            None
        }
        fn from_i64(_: i64) -> Option<Self> {
            None
        }
        fn from_bool(v: bool) -> Option<Self> {
            Some(v)
        }
    }

    /// Visits an optional `T`.
    struct Lenient<T>(PhantomData<T>);

    impl<'de, T: Parse> Visitor<'de> for Lenient<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "{} or nothing", T::WHAT)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.is_empty() {
                return Ok(None);
            }
            v.parse()
                .map(Some)
                .map_err(|_| E::custom(format!("`{v}` is not {}", T::WHAT)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            T::from_f64(v)
                .map(Some)
                .ok_or_else(|| E::custom(format!("{v} is not {}", T::WHAT)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            T::from_u64(v)
                .map(Some)
                .ok_or_else(|| E::custom(format!("{v} is not {}", T::WHAT)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            T::from_i64(v)
                .map(Some)
                .ok_or_else(|| E::custom(format!("{v} is not {}", T::WHAT)))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            T::from_bool(v)
                .map(Some)
                .ok_or_else(|| E::custom(format!("{v} is not {}", T::WHAT)))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    fn optional<'de, D: Deserializer<'de>, T: Parse>(d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_any(Lenient::<T>(PhantomData))
    }

    fn required<'de, D: Deserializer<'de>, T: Parse>(d: D) -> Result<T, D::Error> {
        optional(d)?.ok_or_else(|| de::Error::custom(format!("missing {}", T::WHAT)))
    }

    /// An optional number.
    pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        optional(d)
    }

    /// A number.
    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        required(d)
    }

    /// An optional whole number.
    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        optional(d)
    }

    /// A whole number.
    pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        required(d)
    }

    /// A boolean.
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        required(d)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ArchRecord, write_rows};
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Listed {
        #[serde(deserialize_with = "lenient::u64")]
        seed: u64,
        #[serde(flatten)]
        record: ArchRecord,
        #[serde(deserialize_with = "lenient::bool")]
        cached: bool,
        #[serde(deserialize_with = "lenient::f64")]
        cost: f64,
    }

    #[test]
    fn flattened_records_round_trip_with_text_that_looks_like_numbers() {
        let rows = vec![
            Listed {
                seed: 3,
                record: ArchRecord {
                    arch: "007".into(),
                    hash: "0000000000000123".into(),
                    decisions: "3".into(),
                    search_metric: Some(93.25),
                    reported_metric: None,
                    params: Some(1_531_546),
                    macs: None,
                    latency_ms: Some(f64::NAN),
                    status: crate::record::StatusKind::Ok,
                    reason: String::new(),
                },
                cached: true,
                cost: 1.0,
            },
            Listed {
                seed: 4,
                record: ArchRecord {
                    status: crate::record::StatusKind::Failed,
                    reason: "the loss is NaN, at \"step\" 3".into(),
                    ..ArchRecord::default()
                },
                cached: false,
                cost: 0.5,
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        write_rows(&path, &rows).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("seed,arch,hash,decisions,search_metric,"),
            "{text}"
        );
        let back: Vec<Listed> = read_rows(&path).unwrap();
        assert_eq!(back[1], rows[1]);
        assert_eq!(back[0].record.hash, "0000000000000123");
        assert_eq!(back[0].record.arch, "007");
        assert!(back[0].record.latency_ms.unwrap().is_nan());
        assert_eq!(back[0].record.params, Some(1_531_546));
        std::fs::write(&path, text.replace("1531546", "many")).unwrap();
        let err = read_rows::<Listed>(&path).unwrap_err().to_string();
        assert!(
            err.contains("row 2") && err.contains("`many` is not a whole number"),
            "{err}"
        );
    }
}
