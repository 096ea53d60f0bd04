//! The TOML file: every key optional, unknown keys refused so that a typo is noticed. Its
//! top-level keys and its `[limits]` table are the flags' names with `_` for `-`
//! (`docs/server.md`, "Configuration").
//!
//! The file is read into the same structs as the command line, one per concern, each deriving
//! clap's `Args` and serde's `Deserialize`: a setting is one field, its flag, variable and key
//! come from its name. A section of the file (the top level, `[limits]`) feeds several of them,
//! so the text is parsed once into a span-keeping table and each struct reads the section from
//! it, ignoring the keys of its siblings; a key no struct of the section reads is refused here.
//! serde's `flatten` would do the same in one derive, but it loses the line of every mistake and
//! does not combine with `deny_unknown_fields`.

use std::ops::Range;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer as _, Visitor};
use toml::de::{DeTable, DeValue, Deserializer, Error as TomlError};
use toml::Spanned;

use super::args::{CommonArgs, Output};
use super::database::{DatabaseArgs, DatabaseLimits};
use super::limits::{BankNames, EdgeArgs, PolicyLimits, RequestArgs};
use super::listen::{Addresses, Front};
use super::secrets::{DemoArgs, KeyFiles, TokenFiles};
use crate::error::{Error, Result};

/// The TOML file: each concern's struct as the file fills it.
#[derive(Debug, Default)]
pub struct FileConfig {
    pub(super) database: DatabaseArgs,
    pub(super) keys: KeyFiles,
    pub(super) output: Output,
    pub(super) names: BankNames,
    pub(super) addresses: Addresses,
    pub(super) tokens: TokenFiles,
    pub(super) front: Front,
    pub(super) demo: DemoArgs,
    pub(super) limits: FileLimits,
}

/// `[limits]` in the TOML file.
#[derive(Debug, Default)]
pub(super) struct FileLimits {
    pub(super) policy: PolicyLimits,
    pub(super) requests: RequestArgs,
    pub(super) edge: EdgeArgs,
    pub(super) database: DatabaseLimits,
}

/// Reads the TOML file.
///
/// # Errors
/// [`Error::Config`] when it cannot be read or parsed (with the line of the mistake).
pub fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    parse_file(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// The TOML text of a configuration file (unknown keys refused).
///
/// # Errors
/// The parser's message, with the line of the mistake.
pub fn parse_file(text: &str) -> std::result::Result<FileConfig, TomlError> {
    parse_sections(text).map_err(|mut e| {
        e.set_input(Some(text));
        e
    })
}

fn parse_sections(text: &str) -> std::result::Result<FileConfig, TomlError> {
    let mut root = DeTable::parse(text)?;
    let limits = match take(root.get_mut(), "limits") {
        None => Spanned::new(root.span(), DeTable::new()),
        Some(value) => {
            let span = value.span();
            match value.into_inner() {
                DeValue::Table(table) => Spanned::new(span, table),
                other => return Err(not_a_table(Spanned::new(span, other))),
            }
        }
    };
    let (mut top, mut lim) = (Section::new(root), Section::new(limits));
    let file = FileConfig {
        database: top.read(),
        keys: top.read(),
        output: top.read(),
        names: top.read(),
        addresses: top.read(),
        tokens: top.read(),
        front: top.read(),
        demo: top.read(),
        limits: FileLimits {
            policy: lim.read(),
            requests: lim.read(),
            edge: lim.read(),
            database: lim.read(),
        },
    };
    if let Err(e) = lim.finish(&[]) {
        top.note("limits".into(), e);
    }
    top.finish(&["limits"])?;
    Ok(file)
}

/// One table of the file, read by several structs. Of its mistakes (a bad value, a key no
/// struct reads) the one at the first key in the parser's order (by name) is reported, as one
/// derive over the whole file reported it.
struct Section<'i> {
    table: Spanned<DeTable<'i>>,
    keys: Vec<&'static str>,
    first_mistake: Option<(String, TomlError)>,
}

impl<'i> Section<'i> {
    fn new(table: Spanned<DeTable<'i>>) -> Self {
        Self { table, keys: Vec::new(), first_mistake: None }
    }

    /// The struct `T` of the table's keys that are its fields (the rest are its siblings').
    fn read<T: de::DeserializeOwned + Default>(&mut self) -> T {
        self.keys.extend_from_slice(fields_of::<T>());
        T::deserialize(Deserializer::from(self.table.clone())).unwrap_or_else(|e| {
            let key = self.key_at(&e);
            self.note(key, e);
            T::default()
        })
    }

    /// The key whose entry holds the mistake.
    fn key_at(&self, e: &TomlError) -> String {
        let at = e.span().map_or(usize::MAX, |s: Range<usize>| s.start);
        let holds = |r: Range<usize>| r.start <= at && at < r.end;
        (self.table.get_ref().iter())
            .find(|(k, v)| holds(k.span()) || holds(v.span()))
            .map(|(k, _)| k.get_ref().to_string())
            .unwrap_or_default()
    }

    fn note(&mut self, key: String, e: TomlError) {
        if self.first_mistake.as_ref().is_none_or(|(first, _)| key < *first) {
            self.first_mistake = Some((key, e));
        }
    }

    /// The first mistake, counting the keys that no struct read and that are not `also`.
    fn finish(mut self, also: &[&'static str]) -> std::result::Result<(), TomlError> {
        let expected: Vec<&str> = self.keys.iter().chain(also).copied().collect();
        let unknown: Vec<Spanned<_>> = (self.table.get_ref().keys())
            .filter(|k| !expected.contains(&k.get_ref().as_ref()))
            .cloned()
            .collect();
        for key in unknown {
            let name = key.get_ref().to_string();
            let message = format!(
                "unknown field `{name}`, expected one of {}",
                expected.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            );
            self.note(name, error_at_key(key, message));
        }
        self.first_mistake.map_or(Ok(()), |(_, e)| Err(e))
    }
}

/// Removes `key` from the table.
fn take<'i>(table: &mut DeTable<'i>, key: &str) -> Option<Spanned<DeValue<'i>>> {
    let found = table.keys().find(|k| k.get_ref() == key).cloned()?;
    table.remove(&found)
}

/// The parser's own error for a `limits` that is not a table, at its line.
fn not_a_table(value: Spanned<DeValue<'_>>) -> TomlError {
    struct Limits;
    impl<'de> Visitor<'de> for Limits {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("struct FileLimits")
        }
    }
    match toml::de::ValueDeserializer::from(value).deserialize_any(Limits) {
        Err(e) => e,
        Ok(()) => de::Error::custom("limits must be a table"),
    }
}

/// An error the parser places at `key`, as it places an unknown field of a derive: the key is
/// read through the parser, which gives its span to whatever the reading refuses.
fn error_at_key(key: Spanned<toml::de::DeString<'_>>, message: String) -> TomlError {
    struct RefuseKey(String);
    impl<'de> DeserializeSeed<'de> for RefuseKey {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, _: D) -> std::result::Result<(), D::Error> {
            Err(de::Error::custom(self.0))
        }
    }
    struct FirstKey(String);
    impl<'de> Visitor<'de> for FirstKey {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a table")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
            map.next_key_seed(RefuseKey(self.0)).map(|_| ())
        }
    }
    let span = key.span();
    let mut one = DeTable::new();
    one.insert(key, Spanned::new(span.clone(), DeValue::Boolean(true)));
    match Deserializer::from(Spanned::new(span, one)).deserialize_map(FirstKey(message.clone())) {
        Err(e) => e,
        Ok(()) => de::Error::custom(message),
    }
}

/// The field names of a struct's derived `Deserialize`: the keys it reads from a table.
fn fields_of<T: de::DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(
            self,
            _: V,
        ) -> std::result::Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> std::result::Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Reads the file of `common` (or nothing).
///
/// # Errors
/// As [`read_file`].
pub fn file_of(common: &CommonArgs) -> Result<FileConfig> {
    match &common.config {
        Some(p) => read_file(p),
        None => Ok(FileConfig::default()),
    }
}
