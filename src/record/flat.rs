//! Rows as flat CSV: a serde serializer that writes a struct — its flattened records inline —
//! straight into one CSV line (a header line from the first row's field names), and a writer
//! around it. Floats are written in their shortest round-trip form with a fraction (`1.0`),
//! `None` as an empty field; a field holding a comma, a quote or a line break is quoted. A
//! field that is itself a list or a nested struct (not flattened) is an error: the table would
//! not be flat.

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
        self.line.clear();
        let mut names = self.header.is_none().then(Vec::new);
        let mut line = Line {
            out: &mut self.line,
            names: names.as_mut(),
            fields: 0,
        };
        row.serialize(&mut line)?;
        let fields = line.fields;
        self.line.push(b'\n');
        match (&self.header, names) {
            (None, Some(names)) => {
                let mut header = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        header.push(b',');
                    }
                    quoted(&mut header, name);
                }
                header.push(b'\n');
                self.out.write_all(&header).map_err(write_error)?;
                self.header = Some(names);
            }
            (Some(header), _) if header.len() != fields => {
                return Err(Error::Record(format!(
                    "a row of {fields} fields follows the header {header:?}"
                )));
            }
            _ => {}
        }
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

/// Appends `text` to `out`, quoted (its quotes doubled) when it holds a comma, a quote or a
/// line break.
fn quoted(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push(b'"');
        for b in text.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
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

/// One line being written: the fields so far and, for the first row, their names.
struct Line<'a> {
    out: &'a mut Vec<u8>,
    names: Option<&'a mut Vec<String>>,
    fields: usize,
}

impl Line<'_> {
    /// Starts a field named `name`.
    fn field(&mut self, name: impl FnOnce() -> Result<String>) -> Result<()> {
        if self.fields > 0 {
            self.out.push(b',');
        }
        self.fields += 1;
        if let Some(names) = self.names.as_mut() {
            names.push(name()?);
        }
        Ok(())
    }
}

/// Writes one scalar field into the line.
struct Scalar<'a>(&'a mut Vec<u8>);

/// The name of a flattened field, as text.
struct Key;

fn not_flat() -> Error {
    Error::Record("a field is a list or a nested struct: the row is not flat".into())
}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Record(msg.to_string())
    }
}

/// The `Serializer` methods of a serializer that takes only what `$ok` lets through,
/// refusing lists, maps and structs.
macro_rules! refuse_containers {
    ($ok:ty) => {
        type SerializeSeq = ser::Impossible<$ok, Error>;
        type SerializeTuple = ser::Impossible<$ok, Error>;
        type SerializeTupleStruct = ser::Impossible<$ok, Error>;
        type SerializeTupleVariant = ser::Impossible<$ok, Error>;
        type SerializeStructVariant = ser::Impossible<$ok, Error>;

        fn serialize_bytes(self, _: &[u8]) -> Result<$ok> {
            Err(not_flat())
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<$ok> {
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
    };
}

/// Scalar `Serializer` methods writing their value's text through `$write`.
macro_rules! scalar_methods {
    ($ok:ty, $write:ident) => {
        fn serialize_bool(self, v: bool) -> Result<$ok> {
            self.$write(if v { "true" } else { "false" })
        }
        fn serialize_i8(self, v: i8) -> Result<$ok> {
            self.serialize_i64(v.into())
        }
        fn serialize_i16(self, v: i16) -> Result<$ok> {
            self.serialize_i64(v.into())
        }
        fn serialize_i32(self, v: i32) -> Result<$ok> {
            self.serialize_i64(v.into())
        }
        fn serialize_i64(self, v: i64) -> Result<$ok> {
            self.$write(itoa::Buffer::new().format(v))
        }
        fn serialize_u8(self, v: u8) -> Result<$ok> {
            self.serialize_u64(v.into())
        }
        fn serialize_u16(self, v: u16) -> Result<$ok> {
            self.serialize_u64(v.into())
        }
        fn serialize_u32(self, v: u32) -> Result<$ok> {
            self.serialize_u64(v.into())
        }
        fn serialize_u64(self, v: u64) -> Result<$ok> {
            self.$write(itoa::Buffer::new().format(v))
        }
        fn serialize_f32(self, v: f32) -> Result<$ok> {
            self.$write(ryu::Buffer::new().format(v))
        }
        fn serialize_f64(self, v: f64) -> Result<$ok> {
            self.$write(ryu::Buffer::new().format(v))
        }
        fn serialize_char(self, v: char) -> Result<$ok> {
            self.$write(v.encode_utf8(&mut [0; 4]))
        }
        fn serialize_str(self, v: &str) -> Result<$ok> {
            self.$write(v)
        }
        fn serialize_none(self) -> Result<$ok> {
            self.$write("")
        }
        fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<$ok> {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Result<$ok> {
            self.$write("")
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<$ok> {
            self.$write("")
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<$ok> {
            self.$write(variant)
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<$ok> {
            value.serialize(self)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
            Err(not_flat())
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
            Err(not_flat())
        }
    };
}

impl Scalar<'_> {
    fn put(self, text: &str) -> Result<()> {
        quoted(self.0, text);
        Ok(())
    }
}

impl ser::Serializer for Scalar<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    refuse_containers!(());
    scalar_methods!((), put);
}

impl Key {
    fn text(self, text: &str) -> Result<String> {
        Ok(text.to_string())
    }
}

impl ser::Serializer for Key {
    type Ok = String;
    type Error = Error;
    type SerializeMap = ser::Impossible<String, Error>;
    type SerializeStruct = ser::Impossible<String, Error>;
    refuse_containers!(String);
    scalar_methods!(String, text);
}

/// A row: a struct, or the map serde makes of a struct with flattened fields.
impl<'a, 'b> ser::Serializer for &'a mut Line<'b> {
    type Ok = ();
    type Error = Error;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    refuse_containers!(());

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self> {
        Ok(self)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
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
}

impl ser::SerializeStruct for &mut Line<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(|| Ok(key.to_string()))?;
        value.serialize(Scalar(self.out))
    }

    fn end(self) -> Result<()> {
        Ok(())
    }
}

/// The entries of a struct with flattened fields, each written as one field.
impl ser::SerializeMap for &mut Line<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.field(|| key.serialize(Key))
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(Scalar(self.out))
    }

    fn end(self) -> Result<()> {
        Ok(())
    }
}
