//! Rows as flat CSV: a serde serializer that turns a struct — its flattened records inline —
//! into `(column, text)` pairs, and a writer that puts a header before the first row. Numbers
//! are written in Rust's shortest round-trip form, `None` as an empty field. A field that is
//! itself a list or a nested struct (not flattened) is an error: the table would not be flat.

use crate::error::{Error, Result};
use serde::ser::{self, Serialize};
use std::fmt::Display;
use std::io::Write;
use std::path::Path;

/// Writes rows of one type as CSV to `W`, the header taken from the first row.
pub struct FlatWriter<W: Write> {
    out: W,
    header: Option<Vec<String>>,
    line: Vec<u8>,
}

impl<W: Write> FlatWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> Self {
        FlatWriter {
            out,
            header: None,
            line: Vec::new(),
        }
    }

    /// Writes `row` (and, first, the header).
    pub fn write<T: Serialize>(&mut self, row: &T) -> Result<()> {
        let mut fields = Fields::default();
        row.serialize(&mut fields)?;
        self.line.clear();
        match &self.header {
            None => {
                let names: Vec<String> = fields.0.iter().map(|(n, _)| n.clone()).collect();
                encode(&mut self.line, names.iter().map(String::as_str));
                self.header = Some(names);
            }
            Some(header)
                if header.len() != fields.0.len()
                    || header.iter().zip(&fields.0).any(|(h, (n, _))| h != n) =>
            {
                return Err(Error::Record(format!(
                    "a row with other columns follows the header {header:?}"
                )));
            }
            Some(_) => {}
        }
        encode(&mut self.line, fields.0.iter().map(|(_, v)| v.as_str()));
        self.out.write_all(&self.line).map_err(write_error)
    }

    /// Flushes what was written to the underlying writer.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(write_error)
    }
}

impl FlatWriter<Vec<u8>> {
    /// The rows written so far, to be taken and cleared; the header stays written once.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }
}

fn write_error(e: std::io::Error) -> Error {
    Error::Record(format!("writing: {e}"))
}

/// Appends one CSV line of `fields` to `line`: a field holding a comma, a quote or a line
/// break is quoted, its quotes doubled.
fn encode<'a>(line: &mut Vec<u8>, fields: impl Iterator<Item = &'a str>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            line.push(b',');
        }
        if field
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        {
            line.push(b'"');
            for b in field.bytes() {
                if b == b'"' {
                    line.push(b'"');
                }
                line.push(b);
            }
            line.push(b'"');
        } else {
            line.extend_from_slice(field.as_bytes());
        }
    }
    line.push(b'\n');
}

/// Writes `rows` to a new CSV file at `path` (a header, even with no rows, is written only
/// when there is a first row).
pub fn write_rows<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let mut writer = FlatWriter::new(std::io::BufWriter::new(file));
    let located = |e: Error| Error::Record(format!("{}: {e}", path.display()));
    for row in rows {
        writer.write(row).map_err(located)?;
    }
    writer.flush().map_err(located)
}

/// A float's shortest round-trip text, with a `.0` on whole numbers so that a column of
/// numbers reads as numbers with a fraction.
fn fraction(mut text: String, finite: bool) -> String {
    if finite && !text.contains('.') {
        text.push_str(".0");
    }
    text
}

/// The `(column, text)` pairs of a row.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

/// The text of one scalar field.
struct Scalar;

fn not_flat() -> Error {
    Error::Record("a field is a list or a nested struct: the row is not flat".into())
}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Record(msg.to_string())
    }
}

macro_rules! scalars {
    ($($method:ident: $t:ty),*) => {
        $(fn $method(self, v: $t) -> Result<String> {
            Ok(v.to_string())
        })*
    };
}

impl ser::Serializer for Scalar {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = ser::Impossible<String, Error>;
    type SerializeTuple = ser::Impossible<String, Error>;
    type SerializeTupleStruct = ser::Impossible<String, Error>;
    type SerializeTupleVariant = ser::Impossible<String, Error>;
    type SerializeMap = ser::Impossible<String, Error>;
    type SerializeStruct = ser::Impossible<String, Error>;
    type SerializeStructVariant = ser::Impossible<String, Error>;

    scalars!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_char: char, serialize_str: &str);

    fn serialize_f32(self, v: f32) -> Result<String> {
        Ok(fraction(v.to_string(), v.is_finite()))
    }
    fn serialize_f64(self, v: f64) -> Result<String> {
        Ok(fraction(v.to_string(), v.is_finite()))
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<String> {
        Err(not_flat())
    }
    fn serialize_none(self) -> Result<String> {
        Ok(String::new())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<String> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String> {
        Ok(String::new())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String> {
        Ok(String::new())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String> {
        Err(not_flat())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(not_flat())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(not_flat())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(not_flat())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(not_flat())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(not_flat())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(not_flat())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(not_flat())
    }
}

/// A row: a struct, or the map serde makes of a struct with flattened fields.
impl<'a> ser::Serializer for &'a mut Fields {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = MapFields<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapFields<'a>> {
        Ok(MapFields {
            fields: self,
            key: None,
        })
    }
    fn serialize_bool(self, _: bool) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_i8(self, _: i8) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_i16(self, _: i16) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_i32(self, _: i32) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_i64(self, _: i64) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_u8(self, _: u8) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_u16(self, _: u16) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_u32(self, _: u32) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_u64(self, _: u64) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_f32(self, _: f32) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_f64(self, _: f64) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_char(self, _: char) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_str(self, _: &str) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_none(self) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_unit(self) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<()> {
        Err(not_flat())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(not_flat())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(not_flat())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(not_flat())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(not_flat())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(not_flat())
    }
}

impl ser::SerializeStruct for &mut Fields {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        let text = value.serialize(Scalar)?;
        self.0.push((key.to_string(), text));
        Ok(())
    }

    fn end(self) -> Result<()> {
        Ok(())
    }
}

/// The entries of a struct with flattened fields.
pub struct MapFields<'a> {
    fields: &'a mut Fields,
    key: Option<String>,
}

impl ser::SerializeMap for MapFields<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(Scalar)?);
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let key = self.key.take().ok_or_else(not_flat)?;
        let text = value.serialize(Scalar)?;
        self.fields.0.push((key, text));
        Ok(())
    }

    fn end(self) -> Result<()> {
        Ok(())
    }
}
