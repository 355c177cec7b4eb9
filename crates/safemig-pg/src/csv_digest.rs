//! A table's content checksum, computed while its CSV streams.
//!
//! The checksum of a table is the sum (modulo 2^128) of the first 16 bytes of
//! the SHA-256 of each record as `COPY ... (FORMAT csv)` writes it: the same
//! whatever order the rows come in (a restored table's physical order differs),
//! and computed on the bytes as they pass (to a file, from the server, into a
//! load), so the table is read once for its copy, its row count and its
//! checksum. A sum, not an exclusive or: two equal rows do not cancel out.
//!
//! Backups before it (manifest format 1) hold the server-side `md5` over the
//! sorted `md5` of each row; [`is_csv_digest`] tells the two apart.

use sha2::{Digest, Sha256};

/// How a checksum of this kind begins.
pub const PREFIX: &str = "csv-sha256-sum:";

/// Whether `checksum` is of this kind (else it is a format 1 `md5`).
pub fn is_csv_digest(checksum: &str) -> bool {
    checksum.starts_with(PREFIX)
}

/// The running digest of a CSV stream.
pub struct CsvDigest {
    hasher: Sha256,
    /// Inside a quoted field: a line break there belongs to the value. PostgreSQL
    /// quotes with `"` and doubles a `"` inside, so each `"` flips the state.
    in_quotes: bool,
    /// The first record is the header (`HEADER`): not a row.
    header: bool,
    /// Bytes of a record not yet ended.
    open: bool,
    rows: i64,
    sum: u128,
}

impl CsvDigest {
    /// `header`: the stream starts with a header record.
    pub fn new(header: bool) -> CsvDigest {
        CsvDigest {
            hasher: Sha256::new(),
            in_quotes: false,
            header,
            open: false,
            rows: 0,
            sum: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    let record = &bytes[start..i];
                    // A server on Windows ends records with \r\n.
                    let record = record.strip_suffix(b"\r").unwrap_or(record);
                    self.hasher.update(record);
                    self.end_record();
                    start = i + 1;
                }
                _ => {}
            }
        }
        if start < bytes.len() {
            self.hasher.update(&bytes[start..]);
            self.open = true;
        }
    }

    /// One whole record, without its line end, from a writer that knows where
    /// records end (the CSV made from the dump's rows): the same digest as
    /// [`CsvDigest::update`] gives its bytes, without looking for quotes.
    pub fn record(&mut self, record: &[u8]) {
        debug_assert!(!self.open, "a whole record after a part of one");
        self.hasher.update(record);
        self.end_record();
    }

    fn end_record(&mut self) {
        let digest = std::mem::take(&mut self.hasher).finalize();
        self.open = false;
        if std::mem::take(&mut self.header) {
            return;
        }
        self.rows += 1;
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(first));
    }

    /// The rows seen and the checksum.
    pub fn finish(mut self) -> (i64, String) {
        if self.open {
            self.end_record();
        }
        (self.rows, format!("{PREFIX}{:032x}", self.sum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(chunks: &[&str], header: bool) -> (i64, String) {
        let mut d = CsvDigest::new(header);
        for c in chunks {
            d.update(c.as_bytes());
        }
        d.finish()
    }

    #[test]
    fn the_same_rows_in_any_order_and_any_chunking_give_the_same_checksum() {
        let a = digest(&["id,note\n1,a\n2,\"x\ny\"\n3,\"\"\n"], true);
        let b = digest(&["id,note\n3,\"\"\n2,\"x", "\ny\"\n1,", "a\n"], true);
        assert_eq!(a, b);
        assert_eq!(a.0, 3, "a line break inside quotes is not a new row");
        assert!(is_csv_digest(&a.1));
    }

    #[test]
    fn any_change_of_content_changes_the_checksum() {
        let base = digest(&["1,a\n2,b\n"], false);
        for other in [
            "1,a\n2,c\n",
            "1,a\n",
            "1,a\n2,b\n2,b\n",
            "1,a\n2,\n",
            "1,a\n2,\"\"\n",
        ] {
            assert_ne!(digest(&[other], false), base, "{other:?}");
        }
        // Equal rows do not cancel each other out.
        assert_ne!(digest(&["2,b\n2,b\n"], false).1, digest(&[""], false).1);
        // A last record without its line break still counts.
        assert_eq!(digest(&["1,a\n2,b"], false), base);
    }
}
