//! The critical tables' CSV copies, taken from the dump's own data.
//!
//! A backup used to read a critical table twice: once by pg_dump, once more for
//! its CSV copy. pg_dump's archive already holds every row, in COPY's text
//! format, and `data.sql` streams out of pg_restore anyway: each row of a
//! critical table is turned here into the record `COPY ... TO STDOUT (FORMAT
//! csv, HEADER)` writes for it, byte for byte, so the content checksum is the
//! one the server computes after a restore. That holds because pg_dump ran
//! with the backup's canonical text settings (time zone, output formats,
//! UTF-8), which [`DUMP_ENV`] gives it.
//!
//! What cannot be converted exactly (a table without columns, a line that is
//! not a row COPY writes) is left to the server's own CSV copy: the caller
//! copies the tables this did not finish.

use std::collections::HashMap;

/// The environment pg_dump gets so that its COPY text prints values as the
/// backup's canonical session does (`CANONICAL_TEXT` in backup.rs); pg_dump sets
/// `DateStyle = ISO`, `IntervalStyle = postgres` and `extra_float_digits = 3`
/// itself. `PGTZ` and `PGCLIENTENCODING` override what the user's environment
/// says (libpq reads both; connection poolers pass both on). `bytea_output` is
/// not set (`PGOPTIONS` would make poolers refuse the connection): a table
/// with `bytea` is taken from the dump only where the session's default is hex.
pub const DUMP_ENV: &[(&str, &str)] = &[("PGTZ", "UTC"), ("PGCLIENTENCODING", "UTF8")];

/// A `COPY schema.table (columns) FROM stdin;` line as pg_dump writes it: the
/// schema, the table and the column names, unquoted. `None` for any other line.
pub fn parse_copy_line(line: &[u8]) -> Option<(String, String, Vec<String>)> {
    let line = std::str::from_utf8(line).ok()?;
    let rest = line.strip_prefix("COPY ")?;
    let rest = rest.strip_suffix('\n').unwrap_or(rest);
    let rest = rest.strip_suffix(" FROM stdin;")?;
    let (schema, rest) = identifier(rest)?;
    let rest = rest.strip_prefix('.')?;
    let (table, rest) = identifier(rest)?;
    let mut rest = rest.strip_prefix(" (")?.strip_suffix(')')?;
    let mut columns = Vec::new();
    loop {
        let (column, after) = identifier(rest)?;
        columns.push(column);
        if after.is_empty() {
            break;
        }
        rest = after.strip_prefix(", ")?;
    }
    Some((schema, table, columns))
}

/// One identifier as pg_dump prints it: bare (lower case letters, digits, `_`,
/// `$`) or in double quotes with `""` for a quote inside.
fn identifier(text: &str) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if quoted[i + 1..].starts_with('"') {
                    name.push('"');
                    chars.next();
                } else {
                    return Some((name, &quoted[i + 1..]));
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let end = text
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$'))
            .unwrap_or(text.len());
        (end > 0).then(|| (text[..end].to_string(), &text[end..]))
    }
}

/// The CSV record of one value list: what `COPY ... (FORMAT csv)` writes for it
/// (`,` between fields, `"` to quote, a quote doubled inside, NULL as nothing,
/// an empty string quoted, `\.` alone quoted), with its newline.
fn csv_field(value: &[u8], single: bool, out: &mut Vec<u8>) {
    let quote = value.is_empty()
        || (single && value == b"\\.")
        || value.contains(&b',')
        || value.contains(&b'"')
        || value.contains(&b'\n')
        || value.contains(&b'\r');
    if quote {
        out.push(b'"');
        let mut pieces = value.split(|&b| b == b'"');
        if let Some(first) = pieces.next() {
            out.extend_from_slice(first);
        }
        for piece in pieces {
            out.extend_from_slice(b"\"\"");
            out.extend_from_slice(piece);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(value);
    }
}

/// The header record `COPY ... (FORMAT csv, HEADER)` writes: the column names.
pub fn csv_header(columns: &[String], out: &mut Vec<u8>) {
    let single = columns.len() == 1;
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_field(column.as_bytes(), single, out);
    }
    out.push(b'\n');
}

/// Turns one row of COPY's text format (fields split by tab, `\N` for NULL,
/// backslash escapes) into its CSV record. `Err` when the line is not a row of
/// `columns` fields.
pub fn text_row_to_csv(line: &[u8], columns: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let line = line
        .strip_suffix(b"\n")
        .ok_or("a row without its line end")?;
    let single = columns == 1;
    let mut field = Vec::new();
    let mut count = 0;
    for raw in line.split(|&b| b == b'\t') {
        count += 1;
        if count > columns {
            return Err(format!("more than {columns} fields"));
        }
        if count > 1 {
            out.push(b',');
        }
        if raw == b"\\N" {
            continue; // NULL: nothing between the delimiters
        }
        if !raw.contains(&b'\\') {
            csv_field(raw, single, out); // nothing escaped: as it is
            continue;
        }
        field.clear();
        unescape(raw, &mut field)?;
        csv_field(&field, single, out);
    }
    if count != columns {
        return Err(format!("{count} fields, not {columns}"));
    }
    out.push(b'\n');
    Ok(())
}

/// COPY's text escapes, as `COPY FROM` reads them.
fn unescape(raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&c) = raw.get(i) else {
            return Err("a backslash at the end of a field".into());
        };
        i += 1;
        match c {
            b'0'..=b'7' => {
                let mut value = u32::from(c - b'0');
                for _ in 0..2 {
                    match raw.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            b'x' if raw.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut value = 0u32;
                for _ in 0..2 {
                    match raw.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            value = value * 16 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(value as u8);
            }
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            other => out.push(other),
        }
    }
    if out.contains(&0) {
        return Err("a NUL byte".into());
    }
    Ok(())
}

/// Where a table's CSV records go: each whole record, its line end included.
pub trait Records {
    fn record(&mut self, record: &[u8]) -> std::io::Result<()>;
}

impl Records for Vec<u8> {
    fn record(&mut self, record: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(record);
        Ok(())
    }
}

/// Where one table's CSV goes, and what came of it.
pub struct Wanted<W> {
    pub out: W,
    /// Set once its COPY block ended well: every row converted.
    pub done: bool,
    /// Why it could not be taken from the dump.
    pub failed: Option<String>,
}

/// Follows `data.sql` line by line and writes the rows of the wanted tables
/// (by schema and name) to their CSV writers.
pub struct Splitter<W> {
    pub wanted: HashMap<(String, String), Wanted<W>>,
    /// The table whose COPY block is open, and its column count (`None`: a
    /// block of a table not wanted, followed to its end all the same, so that
    /// none of its rows is taken for a COPY line).
    open: Option<Option<((String, String), usize)>>,
    record: Vec<u8>,
    /// The start of a line whose end is in the next block ([`Splitter::feed`]).
    carry: Vec<u8>,
}

impl<W: Records> Splitter<W> {
    pub fn new(wanted: HashMap<(String, String), Wanted<W>>) -> Splitter<W> {
        Splitter {
            wanted,
            open: None,
            record: Vec::with_capacity(1 << 12),
            carry: Vec::new(),
        }
    }

    /// The next block of `data.sql`, cut anywhere.
    pub fn feed(&mut self, block: &[u8]) -> std::io::Result<()> {
        for piece in block.split_inclusive(|&b| b == b'\n') {
            if !piece.ends_with(b"\n") {
                self.carry.extend_from_slice(piece);
            } else if self.carry.is_empty() {
                self.line(piece)?;
            } else {
                let mut line = std::mem::take(&mut self.carry);
                line.extend_from_slice(piece);
                self.line(&line)?;
                line.clear();
                self.carry = line;
            }
        }
        Ok(())
    }

    /// The end of `data.sql`: what was wanted, and what came of it.
    pub fn finish(mut self) -> std::io::Result<HashMap<(String, String), Wanted<W>>> {
        if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.line(&line)?;
        }
        if let Some(Some((key, _))) = self.open.take() {
            if let Some(wanted) = self.wanted.get_mut(&key) {
                wanted.failed = Some("its rows ended without their end marker".into());
            }
        }
        Ok(self.wanted)
    }

    /// One line of `data.sql`, with its `\n`. Errors are the CSV writers'.
    pub fn line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let Some(block) = &self.open else {
            if line.starts_with(b"COPY ") {
                let Some((schema, table, names)) = parse_copy_line(line) else {
                    // A COPY pg_dump wrote that this cannot read (a name with a
                    // line break): its rows end at the marker all the same.
                    if line.ends_with(b" FROM stdin;\n") {
                        self.open = Some(None);
                    }
                    return Ok(());
                };
                let key = (schema, table);
                let Some(wanted) = self.wanted.get_mut(&key) else {
                    self.open = Some(None);
                    return Ok(());
                };
                if wanted.done || wanted.failed.is_some() {
                    wanted.failed = Some("its rows came twice".into());
                    self.open = Some(None);
                    return Ok(());
                }
                self.record.clear();
                csv_header(&names, &mut self.record);
                wanted.out.record(&self.record)?;
                self.open = Some(Some((key, names.len())));
            }
            return Ok(());
        };
        if line == b"\\.\n" {
            if let Some((key, _)) = block {
                let wanted = self.wanted.get_mut(key).expect("opened from the map");
                wanted.done = wanted.failed.is_none();
            }
            self.open = None;
            return Ok(());
        }
        let Some((key, columns)) = block else {
            return Ok(());
        };
        let wanted = self.wanted.get_mut(key).expect("opened from the map");
        if wanted.failed.is_some() {
            return Ok(());
        }
        self.record.clear();
        match text_row_to_csv(line, *columns, &mut self.record) {
            Ok(()) => wanted.out.record(&self.record)?,
            Err(why) => wanted.failed = Some(why),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: &str, columns: usize) -> String {
        let mut out = Vec::new();
        text_row_to_csv(line.as_bytes(), columns, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_print_as_copy_csv_prints_them() {
        assert_eq!(row("1\tplain\t\\N\n", 3), "1,plain,\n");
        assert_eq!(
            row("1\t\t\\N\n", 3),
            "1,\"\",\n",
            "empty string quoted, NULL bare"
        );
        assert_eq!(row("a,b\tsay \"hi\"\n", 2), "\"a,b\",\"say \"\"hi\"\"\"\n");
        assert_eq!(
            row("line\\nbreak\tcr\\rhere\n", 2),
            "\"line\nbreak\",\"cr\rhere\"\n"
        );
        assert_eq!(
            row("tab\\there\tback\\\\slash\n", 2),
            "tab\there,back\\slash\n"
        );
        assert_eq!(row("\\\\N\n", 1), "\\N\n", "the text \\N is not NULL");
        assert_eq!(row("\\\\.\n", 1), "\"\\.\"\n", "\\. alone is quoted");
        assert_eq!(row("\\\\.\tx\n", 2), "\\.,x\n", "not alone: as is");
        assert_eq!(row("\\b\\f\\v\\101\\x41\n", 1), "\u{8}\u{c}\u{b}AA\n");
        assert_eq!(row("{\"a\": \"b\"}\n", 1), "\"{\"\"a\"\": \"\"b\"\"}\"\n");
        assert_eq!(row("é ü\n", 1), "é ü\n");
    }

    #[test]
    fn a_row_of_another_shape_is_refused() {
        let mut out = Vec::new();
        assert!(text_row_to_csv(b"1\t2\n", 3, &mut out).is_err());
        assert!(text_row_to_csv(b"1\t2\t3\t4\n", 3, &mut out).is_err());
        assert!(text_row_to_csv(b"1\t2", 2, &mut out).is_err());
        assert!(text_row_to_csv(b"a\\\n", 1, &mut out).is_err());
        assert!(text_row_to_csv(b"a\\000\n", 1, &mut out).is_err());
    }

    #[test]
    fn copy_lines_are_read_as_pg_dump_quotes_them() {
        assert_eq!(
            parse_copy_line(b"COPY public.events (id, payload, at) FROM stdin;\n"),
            Some((
                "public".into(),
                "events".into(),
                vec!["id".into(), "payload".into(), "at".into()]
            ))
        );
        assert_eq!(
            parse_copy_line(
                b"COPY \"My Schema\".\"T\"\"x\" (\"a, b\", \"User\", \"select\") FROM stdin;\n"
            ),
            Some((
                "My Schema".into(),
                "T\"x".into(),
                vec!["a, b".into(), "User".into(), "select".into()]
            ))
        );
        assert_eq!(parse_copy_line(b"COPY public.t  FROM stdin;\n"), None);
        assert_eq!(parse_copy_line(b"SELECT 1;\n"), None);
    }

    #[test]
    fn the_splitter_takes_only_the_wanted_blocks() {
        let mut splitter = splitter_for_b();
        for line in [
            "COPY public.a (x) FROM stdin;\n",
            "1\n",
            // A row of a table not wanted, that reads like a COPY line.
            "COPY public.b (x, \"Y\") FROM stdin;\n",
            "9\tforged\n",
            "\\.\n",
            "COPY public.b (x, \"Y\") FROM stdin;\n",
            "1\t\\N\n",
            "2\ttwo, three\n",
            "\\.\n",
            "SELECT pg_catalog.setval('public.s', 1, true);\n",
        ] {
            splitter.line(line.as_bytes()).unwrap();
        }
        let b = &splitter.wanted[&("public".to_string(), "b".to_string())];
        assert!(b.done && b.failed.is_none());
        assert_eq!(
            String::from_utf8_lossy(&b.out),
            "x,Y\n1,\n2,\"two, three\"\n"
        );
    }

    #[test]
    fn blocks_cut_anywhere_give_the_same_copy() {
        let data = "SET x = 1;\nCOPY public.b (x, y) FROM stdin;\n1\tone\n2\t\\N\n\\.\nSELECT 1;\n";
        let whole = {
            let mut splitter = splitter_for_b();
            splitter.feed(data.as_bytes()).unwrap();
            splitter.finish().unwrap()
        };
        let expected = &whole[&("public".to_string(), "b".to_string())];
        assert!(expected.done);
        assert_eq!(String::from_utf8_lossy(&expected.out), "x,y\n1,one\n2,\n");
        for cut in 1..data.len() {
            let mut splitter = splitter_for_b();
            splitter.feed(&data.as_bytes()[..cut]).unwrap();
            splitter.feed(&data.as_bytes()[cut..]).unwrap();
            let got = splitter.finish().unwrap();
            let b = &got[&("public".to_string(), "b".to_string())];
            assert!(b.done, "cut at {cut}");
            assert_eq!(b.out, expected.out, "cut at {cut}");
        }
        // Cut short inside the block: not done.
        let mut splitter = splitter_for_b();
        splitter.feed(&data.as_bytes()[..50]).unwrap();
        let got = splitter.finish().unwrap();
        assert!(!got[&("public".to_string(), "b".to_string())].done);
    }

    fn splitter_for_b() -> Splitter<Vec<u8>> {
        let mut wanted = HashMap::new();
        wanted.insert(
            ("public".to_string(), "b".to_string()),
            Wanted {
                out: Vec::new(),
                done: false,
                failed: None,
            },
        );
        Splitter::new(wanted)
    }
}
