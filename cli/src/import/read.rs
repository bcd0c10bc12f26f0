//! Reading the CSV file: the header checked, each row validated (cheap checks and
//! duplicates within the file) before any store request is made for it.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use csv::ByteRecord;
use shared::auth::password::Password;
use shared::domain::{normalize_email, normalize_phone, normalize_username};
use shared::service::provision::NewUser;
use tokio::sync::mpsc;

use super::{COLUMNS, Row};
use crate::common::describe;

fn open(path: &Path) -> anyhow::Result<csv::Reader<std::fs::File>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let header = reader
        .byte_headers()
        .with_context(|| format!("reading the header of {}", path.display()))?;
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let text = String::from_utf8_lossy(field);
            let text = if i == 0 {
                text.trim_start_matches('\u{feff}')
            } else {
                &text
            };
            text.trim().to_ascii_lowercase()
        })
        .collect();
    if names != COLUMNS {
        bail!(
            "{}: line 1: the header must be `{}` (found `{}`)",
            path.display(),
            COLUMNS.join(","),
            names.join(",")
        );
    }
    Ok(reader)
}

/// Data rows in the file (for the progress bar); also checks the header.
pub(super) fn count_rows(path: &Path) -> anyhow::Result<u64> {
    let mut reader = open(path)?;
    let mut record = ByteRecord::new();
    let mut rows = 0;
    while reader
        .read_byte_record(&mut record)
        .with_context(|| format!("reading {}", path.display()))?
    {
        rows += 1;
    }
    Ok(rows)
}

/// Values already claimed by earlier rows of the file, with their line.
#[derive(Default)]
struct Seen {
    user_ids: HashMap<i64, u64>,
    usernames: HashMap<String, u64>,
    phones: HashMap<String, u64>,
    emails: HashMap<String, u64>,
}

/// Line numbers as an editor shows them, from a record's byte offset. The csv crate's own
/// `Position::line` runs one behind on CRLF files (it counts the `\r` as the end of the
/// record and the `\n` as the start of the next), and CRLF is what Excel writes. So
/// lines are counted here, in a second pass over the same bytes: `\r\n`, `\n` and a lone
/// `\r` each end one line.
struct LineCounter<R> {
    input: R,
    offset: u64,
    line: u64,
    after_cr: bool,
}

impl<R: std::io::BufRead> LineCounter<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            offset: 0,
            line: 1,
            after_cr: false,
        }
    }

    /// The line on which byte `offset` lies. Offsets must not decrease between calls.
    fn line_at(&mut self, offset: u64) -> std::io::Result<u64> {
        while self.offset < offset {
            let buffer = self.input.fill_buf()?;
            if buffer.is_empty() {
                break;
            }
            let wanted = usize::try_from(offset - self.offset).unwrap_or(usize::MAX);
            let taken = buffer.len().min(wanted);
            for &byte in &buffer[..taken] {
                match byte {
                    b'\r' => self.line += 1,
                    b'\n' if !self.after_cr => self.line += 1,
                    _ => {}
                }
                self.after_cr = byte == b'\r';
            }
            self.input.consume(taken);
            self.offset += taken as u64;
        }
        Ok(self.line)
    }
}

pub(super) fn read_rows(path: &Path, app_id: &str, tx: &mpsc::Sender<Row>) -> anyhow::Result<()> {
    let mut reader = open(path)?;
    let mut lines = LineCounter::new(std::io::BufReader::new(
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
    ));
    let mut record = ByteRecord::new();
    let mut seen = Seen::default();
    while reader
        .read_byte_record(&mut record)
        .with_context(|| format!("reading {}", path.display()))?
    {
        let offset = record.position().map_or(0, csv::Position::byte);
        let line = lines
            .line_at(offset)
            .with_context(|| format!("reading {}", path.display()))?;
        let row = match validate(&record, app_id, line, &mut seen) {
            Ok(user) => Row::Good {
                line,
                user: Box::new(user),
            },
            Err(reason) => Row::Bad { line, reason },
        };
        if tx.blocking_send(row).is_err() {
            break; // the import stopped
        }
    }
    Ok(())
}

fn validate(
    record: &ByteRecord,
    app_id: &str,
    line: u64,
    seen: &mut Seen,
) -> Result<NewUser, String> {
    if record.len() != COLUMNS.len() {
        return Err(format!(
            "expected {} fields ({}), found {}",
            COLUMNS.len(),
            COLUMNS.join(","),
            record.len()
        ));
    }
    let field = |i: usize| {
        let bytes = record.get(i).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| format!("{} is not valid UTF-8", COLUMNS[i]))
    };
    let raw_id = field(0)?.trim();
    let user_id = raw_id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("user_id {raw_id:?} is not a positive int64"))?;
    let username = normalize_username(field(1)?).map_err(|e| describe(&e))?;
    let optional = |raw: &str, normalize: fn(&str) -> shared::Result<String>| {
        if raw.trim().is_empty() {
            Ok(None)
        } else {
            normalize(raw).map(Some).map_err(|e| describe(&e))
        }
    };
    let phone = optional(field(2)?, normalize_phone)?;
    let email = optional(field(3)?, normalize_email)?;
    let password = field(4)?.to_owned();
    // Empty or over-long passwords are refused here, before any hashing.
    Password::new(password.clone()).map_err(|e| describe(&e))?;

    if let Some(first) = seen.user_ids.get(&user_id) {
        return Err(format!("user_id {user_id} repeats line {first}"));
    }
    if let Some(first) = seen.usernames.get(&username) {
        return Err(format!("username already taken by line {first}"));
    }
    if let Some(first) = phone.as_ref().and_then(|p| seen.phones.get(p)) {
        return Err(format!("phone already taken by line {first}"));
    }
    if let Some(first) = email.as_ref().and_then(|e| seen.emails.get(e)) {
        return Err(format!("email already taken by line {first}"));
    }
    seen.user_ids.insert(user_id, line);
    seen.usernames.insert(username.clone(), line);
    if let Some(phone) = &phone {
        seen.phones.insert(phone.clone(), line);
    }
    if let Some(email) = &email {
        seen.emails.insert(email.clone(), line);
    }
    Ok(NewUser {
        app_id: app_id.to_owned(),
        user_id,
        username,
        phone,
        email,
        password,
        activated: Some(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line each data row of `text` is reported on, read as `read_rows` reads it.
    fn reported_lines(text: &str) -> Vec<u64> {
        static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("imauth-lines-{}-{n}.csv", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let (tx, mut rx) = mpsc::channel(64);
        read_rows(&path, "a", &tx).unwrap();
        drop(tx);
        std::fs::remove_file(&path).unwrap();
        let mut lines = Vec::new();
        while let Ok(row) = rx.try_recv() {
            lines.push(match row {
                Row::Good { line, .. } | Row::Bad { line, .. } => line,
            });
        }
        lines
    }

    #[test]
    fn bad_rows_are_reported_on_their_own_line_whatever_the_line_ends() {
        let header = "user_id,username,phone,email,password";
        let rows = [
            "8001,a,,,pw",
            "bad,b,x,y,z",
            "8003,\"c\",,,\"two\nlines\"",
            "8004,d,,,pw",
        ];
        for end in ["\n", "\r\n", "\r"] {
            let text = format!("{header}{end}{}{end}", rows.join(end));
            assert_eq!(reported_lines(&text), [2, 3, 4, 6], "line ends {end:?}");
        }
        // The issue's example, byte for byte.
        let crlf = "user_id,username,phone,email,password\r\n8001,a,,,pw\r\nbad,b,x,y,z\r\n";
        assert_eq!(reported_lines(crlf), [2, 3]);
    }

    fn row(fields: &[&str]) -> ByteRecord {
        ByteRecord::from(fields.to_vec())
    }

    #[test]
    fn rows_are_validated_and_duplicates_name_the_first_line() {
        let mut seen = Seen::default();
        let good = validate(
            &row(&["7", "Bob", "+86 138-0000-0001", "Bob@X.io", "pw"]),
            "a",
            2,
            &mut seen,
        )
        .unwrap();
        assert_eq!(good.username, "bob");
        assert_eq!(good.phone.as_deref(), Some("+8613800000001"));
        assert_eq!(good.email.as_deref(), Some("bob@x.io"));
        let bad =
            |fields: &[&str], seen: &mut Seen| validate(&row(fields), "a", 9, seen).unwrap_err();
        assert!(bad(&["x", "c", "", "", "pw"], &mut seen).contains("user_id \"x\""));
        assert!(bad(&["0", "c", "", "", "pw"], &mut seen).contains("positive"));
        assert!(bad(&["8", "123", "", "", "pw"], &mut seen).contains("non-digit"));
        assert!(bad(&["8", "c", "", "", ""], &mut seen).contains("password must not be empty"));
        assert!(bad(&["8", "c", "", ""], &mut seen).contains("found 4"));
        assert_eq!(
            bad(&["8", "BOB", "", "", "pw"], &mut seen),
            "username already taken by line 2"
        );
        assert_eq!(
            bad(&["7", "c", "", "", "pw"], &mut seen),
            "user_id 7 repeats line 2"
        );
        assert_eq!(
            bad(&["8", "c", "", "bob@x.io", "pw"], &mut seen),
            "email already taken by line 2"
        );
        // Bad rows claim nothing: `c` is still free.
        assert!(validate(&row(&["8", "c", "", "", "pw"]), "a", 10, &mut seen).is_ok());
    }
}
